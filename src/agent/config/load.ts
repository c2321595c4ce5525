import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../kit/errors.js';
import type { AnyModuleSpec } from '../kit/module.js';
import { expandReferences, type ExpandEnvironment, type PathSegment } from './expand.js';
import { buildConfigSchema, type Config } from './schema.js';

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
    } else if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
      out.push({ path, message: issue.message });
    } else {
      out.push({ path, message: issue.message });
    }
  }
  return out;
}

/** Reads, expands and validates the config file; every problem is reported at once as a ConfigError. */
export async function loadConfig(file: string, options: LoadOptions): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return { path: '', location: pos ? `${file}:${pos.line}:${pos.col}` : file, message: `invalid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` };
      }),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ path: '', location: file, message: 'the file must be a YAML mapping of sections (admin, metrics, probes, …)' }]);
  }
  const environment = options.environment ?? { env: process.env, credentialsDirectory: process.env.CREDENTIALS_DIRECTORY };
  const expanded = await expandReferences(raw, environment);
  const schema = buildConfigSchema(options.modules);
  const parsed = schema.safeParse(expanded.value);
  const problems = [...expanded.issues, ...(parsed.success ? [] : toIssues(parsed.error, schema))];
  if (problems.length > 0 || !parsed.success) {
    const issues: ConfigIssue[] = problems.map((p) => {
      const location = locate(doc, lines, file, p.path);
      return { path: p.path.join('.'), message: p.message, ...(location ? { location } : {}) };
    });
    throw new ConfigError(issues);
  }
  const data = parsed.data as Record<string, unknown> & Pick<Config, 'agent' | 'admin' | 'metrics'>;
  const sections = new Map<string, unknown>();
  for (const module of options.modules) {
    if (data[module.name] !== undefined) sections.set(module.name, data[module.name]);
  }
  return { agent: data.agent, admin: data.admin, metrics: data.metrics, sections, secrets: expanded.secrets, path: file };
}
