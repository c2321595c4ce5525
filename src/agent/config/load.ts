import { CST, isCollection, isPair, isScalar, Lexer, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../kit/errors.js';
import type { AnyModuleSpec } from '../kit/module.js';
import { deprecatedKeys } from './deprecated.js';
import { expandReferences, type ExpandEnvironment, type ExpandResult, type PathSegment } from './expand.js';
import { readSmallFile, SmallFileError } from './read-small-file.js';
import { buildConfigSchema, type Config } from './schema.js';

/** The largest config file read (documented in README.md): a real one is a few KiB. */
export const CONFIG_MAX_BYTES = 1024 * 1024;
/**
 * The yaml package holds about 1 KiB per value while it builds a document, so 1 MiB of `[1,1,1,…]`
 * would need more heap than the unit allows (--max-old-space-size=256). A config of a thousand
 * probes has under 10,000 values.
 */
const MAX_VALUES = 20_000;
/** Deeper than any section needs; bounds the recursion of the YAML composer, expansion and validation. */
const MAX_DEPTH = 32;
/** yaml's own bound on alias expansion (its default), stated so an alias bomb is a config error here. */
const MAX_ALIAS_COUNT = 100;
/** Bounds on what a refusal prints, so a huge bad value or a thousand bad items make a readable answer. */
const MAX_ISSUES = 50;
const MAX_MESSAGE_CHARS = 300;

export interface LoadOptions {
  modules: readonly AnyModuleSpec[];
  environment?: ExpandEnvironment;
}

function locate(doc: Document, lines: LineCounter, file: string, path: PathSegment[]): string | undefined {
  // Walk up to the nearest key that exists, so a missing key still points at its parent.
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return `${file}:${line}:${col}`;
    }
  }
  return undefined;
}

function closest(key: string, candidates: readonly string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const current = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length]!;
  };
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Keys a strict object at `path` accepts, for "did you mean" hints on unknown keys. */
function knownKeys(schema: z.ZodType, path: PathSegment[]): string[] {
  let current: unknown = schema;
  const unwrap = (s: unknown): unknown => {
    let node = s as { def?: { type?: string; innerType?: unknown; in?: unknown; element?: unknown; shape?: unknown } };
    for (let i = 0; i < 10 && node?.def; i++) {
      const def = node.def;
      if (def.innerType) node = def.innerType as typeof node;
      else if (def.type === 'pipe' && def.in) node = def.in as typeof node;
      else break;
    }
    return node;
  };
  for (const segment of path) {
    const node = unwrap(current) as { def?: { type?: string; element?: unknown; shape?: Record<string, unknown> } };
    if (typeof segment === 'number' && node.def?.type === 'array') current = node.def.element;
    else if (typeof segment === 'string' && node.def?.shape) current = node.def.shape[segment];
    else return [];
  }
  const node = unwrap(current) as { def?: { shape?: Record<string, unknown> } };
  return node.def?.shape ? Object.keys(node.def.shape) : [];
}

function toIssues(error: z.ZodError, schema: z.ZodType): Array<{ path: PathSegment[]; message: string }> {
  const out: Array<{ path: PathSegment[]; message: string }> = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((p): p is PathSegment => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, path);
      for (const key of issue.keys) {
        const hint = closest(key, known);
        out.push({ path: [...path, key], message: `unknown key${hint ? ` (did you mean '${hint}'?)` : known.length ? ` (expected one of: ${known.join(', ')})` : ''}` });
      }
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

function fileIssue(file: string, message: string, location?: string): ConfigError {
  return new ConfigError([{ path: '', location: location ?? file, message }]);
}

/** The file's text, refused before it is read whole when it is not a regular file or over the limit. */
async function readConfigText(file: string): Promise<string> {
  try {
    return await readSmallFile(file, CONFIG_MAX_BYTES);
  } catch (err) {
    if (err instanceof SmallFileError) throw fileIssue(file, `config file ${file} ${err.message}`);
    throw fileIssue(file, `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function lineOf(text: string, file: string, offset: number): string {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return `${file}:${line}:${offset - start + 1}`;
}

/** Counts values and flow nesting with yaml's lexer (no document built), stopping at the first bound crossed. */
function checkShape(text: string, file: string): void {
  let values = 0;
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (type === 'scalar' || type === 'flow-map-start' || type === 'flow-seq-start' || type === 'seq-item-ind') {
      if (++values > MAX_VALUES) throw fileIssue(file, `invalid YAML: more than ${MAX_VALUES} values in one config file`, lineOf(text, file, offset));
    }
    if (type === 'flow-map-start' || type === 'flow-seq-start') {
      if (++depth > MAX_DEPTH) throw fileIssue(file, `invalid YAML: nested more than ${MAX_DEPTH} levels deep`, lineOf(text, file, offset));
    } else if (type === 'flow-map-end' || type === 'flow-seq-end') {
      depth--;
    }
    // The lexer's own markers (document start, scalar, flow end) are not in the text.
    if (!(token.length === 1 && token < ' ' && token !== '\n' && token !== '\t')) offset += token.length;
  }
}

/**
 * Block nesting the lexer does not count, and duplicate keys: one walk without recursion (the composer
 * got this far), with a set per mapping, where yaml's own uniqueKeys compares every pair of keys.
 */
function structureProblem(doc: Document): { node: { range?: [number, number, number] | null }; message: string } | undefined {
  const stack: Array<[unknown, number]> = [[doc.contents, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (!isCollection(node)) continue;
    if (depth > MAX_DEPTH) return { node, message: `nested more than ${MAX_DEPTH} levels deep` };
    const keys = new Set<string>();
    for (const item of node.items) {
      if (!isPair(item)) {
        stack.push([item, depth + 1]);
        continue;
      }
      if (isScalar(item.key)) {
        const key = `${typeof item.key.value}:${String(item.key.value)}`;
        if (keys.has(key)) return { node: item.key, message: 'Map keys must be unique' };
        keys.add(key);
      }
      stack.push([item.key, depth + 1], [item.value, depth + 1]);
    }
  }
  return undefined;
}

function firstAlias(doc: Document): { range?: [number, number, number] | null } | undefined {
  let found: { range?: [number, number, number] | null } | undefined;
  visit(doc, {
    Alias(_, node) {
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}

/** The file as a plain value: a ConfigError with a line for every way the YAML can be broken or too big. */
function parseYamlConfig(text: string, file: string): { doc: Document; lines: LineCounter; raw: unknown } {
  checkShape(text, file);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: false });
  const at = (node: { range?: [number, number, number] | null } | undefined) => {
    if (!node?.range) return file;
    const { line, col } = lines.linePos(node.range[0]);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        const message = /call stack/i.test(e.message) ? `nested more than ${MAX_DEPTH} levels deep` : e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return { path: '', location: pos ? `${file}:${pos.line}:${pos.col}` : file, message: `invalid YAML: ${message}` };
      }),
    );
  }
  const problem = structureProblem(doc);
  if (problem) throw fileIssue(file, `invalid YAML: ${problem.message}`, at(problem.node));
  try {
    return { doc, lines, raw: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {} };
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    // yaml throws when aliases expand past maxAliasCount (a "billion laughs"), or for an alias to no anchor.
    const message = /excessive alias/i.test(err.message)
      ? `invalid YAML: aliases expand to more than ${MAX_ALIAS_COUNT} copies (write the values out instead of nesting aliases)`
      : `invalid YAML: ${err.message}`;
    throw fileIssue(file, message, at(firstAlias(doc)));
  }
}

/**
 * A value that came from a reference is never quoted back in a message (which reaches the /reload
 * answer, check-config and the log): the message names the reference as written in the file instead.
 */
function redactor(expanded: ExpandResult): (message: string) => string {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const rules: Array<[RegExp, string]> = [];
  for (const { value, source } of [...expanded.expansions].sort((a, b) => b.value.length - a.value.length)) {
    if (value === '') continue;
    // Short values only where quoted: bare, they would match ordinary words of the message.
    const pattern = value.length >= 4 ? `(['"\`]?)${escape(value)}\\1` : `(['"\`])${escape(value)}\\1`;
    rules.push([new RegExp(pattern, 'gi'), `(value from ${source})`]);
  }
  for (const secret of expanded.secrets) if (secret.length >= 4) rules.push([new RegExp(escape(secret), 'gi'), '[secret]']);
  return (message) => rules.reduce((text, [pattern, replacement]) => text.replace(pattern, () => replacement), message);
}

/** Short, and without control characters: a message quoting the file's bytes must not drive the terminal it is printed on. */
function printable(message: string): string {
  const escaped = message.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > MAX_MESSAGE_CHARS ? `${escaped.slice(0, MAX_MESSAGE_CHARS)}… (${escaped.length} characters)` : escaped;
}

/** The file as plain data, within the same bounds as loadConfig, neither expanded nor validated (the CLI's admin address). */
export async function readConfigData(file: string): Promise<unknown> {
  return parseYamlConfig(await readConfigText(file), file).raw;
}

/** Reads, expands and validates the config file; every problem is reported at once as a ConfigError. */
export async function loadConfig(file: string, options: LoadOptions): Promise<Config> {
  const { doc, lines, raw } = parseYamlConfig(await readConfigText(file), file);
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ path: '', location: file, message: 'the file must be a YAML mapping of sections (admin, metrics, probes, …)' }]);
  }
  const environment = options.environment ?? { env: process.env, credentialsDirectory: process.env.CREDENTIALS_DIRECTORY };
  const expanded = await expandReferences(raw, environment);
  const schema = buildConfigSchema(options.modules);
  const parsed = schema.safeParse(expanded.value);
  const problems = [...expanded.issues, ...(parsed.success ? [] : toIssues(parsed.error, schema))];
  if (problems.length > 0 || !parsed.success) {
    const redact = redactor(expanded);
    const issues: ConfigIssue[] = problems.slice(0, MAX_ISSUES).map((p) => {
      const location = locate(doc, lines, file, p.path);
      return { path: p.path.join('.'), message: printable(redact(p.message)), ...(location ? { location } : {}) };
    });
    if (problems.length > MAX_ISSUES) issues.push({ path: '', location: file, message: `and ${problems.length - MAX_ISSUES} more problems` });
    throw new ConfigError(issues);
  }
  const data = parsed.data as Record<string, unknown> & Pick<Config, 'agent' | 'admin' | 'metrics'>;
  const sections = new Map<string, unknown>();
  for (const module of options.modules) {
    if (data[module.name] !== undefined) sections.set(module.name, data[module.name]);
  }
  const warnings = deprecatedKeys(schema, expanded.value).map((w): ConfigIssue => {
    const location = locate(doc, lines, file, w.path);
    return { path: w.path.join('.'), message: w.message, ...(location ? { location } : {}) };
  });
  return { agent: data.agent, admin: data.admin, metrics: data.metrics, sections, secrets: expanded.secrets, warnings, path: file };
}
