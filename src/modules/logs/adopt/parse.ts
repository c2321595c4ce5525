import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';

/**
 * logrotate's config language (3.21, Debian's), read the way logrotate reads it: directives outside a
 * block are defaults for every later block, in this file and in every file read after it (an included
 * file's defaults leak into the rest, as logrotate -d shows); `include` reads a file or a directory's
 * files in name order, skipping the taboo names; scripts run from `postrotate` (etc.) to `endscript`.
 * Only what a mistake would make us get wrong is an error; unknown directives are kept for the mapping
 * to name.
 */

export const DEFAULT_LOGROTATE_CONF = '/etc/logrotate.conf';

/**
 * logrotate 3.21's built-in taboo list, as the globs it keeps (`tabooext EXT` adds `*EXT`, `taboopat P`
 * adds P): a file of an included directory matching one is skipped (adopt-parse.test.ts compares with logrotate).
 */
export const DEFAULT_TABOO = [',v', '.bak', '.cfsaved', '.disabled', '.dpkg-bak', '.dpkg-del', '.dpkg-dist', '.dpkg-new', '.dpkg-old', '.dpkg-tmp', '.rhn-cfg-tmp-*', '.rpmnew', '.rpmorig', '.rpmsave', '.swp', '.ucf-dist', '.ucf-new', '.ucf-old', '~'].map((ext) => `*${ext}`);

export const SCRIPT_DIRECTIVES = ['postrotate', 'prerotate', 'firstaction', 'lastaction', 'preremove'] as const;
export type ScriptName = (typeof SCRIPT_DIRECTIVES)[number];

export interface Directive {
  name: string;
  args: string[];
  file: string;
  line: number;
  /** For a script directive: its lines up to `endscript`, as written. */
  script?: string;
}

export interface Block {
  file: string;
  line: number;
  /** The paths and globs of the block, unquoted. */
  patterns: string[];
  /** The defaults in force when the block opened, then the block's own directives: a later one wins. */
  directives: Directive[];
}

export interface ParsedConfig {
  /** Every file read, in order. */
  files: string[];
  /** The directories included, with the taboo list in force when each was read. */
  includedDirs: { dir: string; taboo: string[] }[];
  blocks: Block[];
}

export class LogrotateSyntaxError extends Error {
  readonly code = 'LOGROTATE_SYNTAX';
  constructor(
    readonly file: string,
    readonly line: number,
    problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'LogrotateSyntaxError';
  }
}

/** Whether logrotate skips `name` in an included directory, with the taboo globs `taboo` (`*` and `?`). */
export function isTaboo(name: string, taboo: readonly string[]): boolean {
  return taboo.some((glob) => new RegExp(`^${[...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`).test(name));
}

/** Splits a path list the way logrotate does: whitespace separates, double or single quotes group. */
function splitWords(text: string, file: string, line: number): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let match = re.exec(text); match; match = re.exec(text)) {
    const word = match[1] ?? match[2] ?? match[3]!;
    if (word.startsWith('"') || word.startsWith("'")) throw new LogrotateSyntaxError(file, line, `unterminated quote in ${word}`);
    words.push(word);
  }
  return words;
}

interface Reader {
  files: string[];
  includedDirs: ParsedConfig['includedDirs'];
  blocks: Block[];
  defaults: Directive[];
  taboo: string[];
  depth: number;
}

async function readConfigFile(path: string, reader: Reader): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read logrotate config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  reader.files.push(path);
  const lines = text.split('\n');
  let block: Block | undefined;
  /** A path list waiting for its `{` on a later line. */
  let pending: { patterns: string[]; line: number } | undefined;
  // Includes are read where they stand: a default set after an include does not reach the included files.
  let pendingIncludes: { target: string; line: number }[] = [];

  const directive = (body: string, lineNo: number, index: { i: number }): void => {
    const [name, ...args] = body.split(/\s+/);
    const keyword = name!.toLowerCase();
    if (!/^[a-z]+$/.test(keyword)) throw new LogrotateSyntaxError(path, lineNo, `'${name}' is neither a directive nor a path (paths start with /)`);
    if ((SCRIPT_DIRECTIVES as readonly string[]).includes(keyword)) {
      const start = index.i + 1;
      let end = start;
      while (end < lines.length && lines[end]!.trim() !== 'endscript') end++;
      if (end >= lines.length) throw new LogrotateSyntaxError(path, lineNo, `${keyword} without endscript`);
      index.i = end;
      (block?.directives ?? reader.defaults).push({ name: keyword, args: [], file: path, line: lineNo, script: lines.slice(start, end).join('\n') });
      return;
    }
    if (keyword === 'endscript') throw new LogrotateSyntaxError(path, lineNo, 'endscript without a script before it');
    // A comment may follow a directive without arguments (logrotate ignores the rest of such a line);
    // after arguments logrotate takes it for one, so it is kept and the mapping reports it.
    const words = args.length > 0 && args[0]!.startsWith('#') ? [] : args;
    if (keyword === 'include') {
      if (block) throw new LogrotateSyntaxError(path, lineNo, 'include is not allowed inside a block');
      if (words.length !== 1) throw new LogrotateSyntaxError(path, lineNo, 'include needs one path');
      pendingIncludes.push({ target: resolve(words[0]!), line: lineNo });
      return;
    }
    if (keyword === 'tabooext' || keyword === 'taboopat') {
      const add = words[0] === '+';
      const list = (add ? words.slice(1) : words).join(' ').split(/[\s,]+/).filter(Boolean);
      const globs = keyword === 'tabooext' ? list.map((ext) => `*${ext}`) : list;
      reader.taboo = add ? [...reader.taboo, ...globs] : globs;
      return;
    }
    (block?.directives ?? reader.defaults).push({ name: keyword, args: words, file: path, line: lineNo });
  };

  const runIncludes = async () => {
    const queue = pendingIncludes;
    pendingIncludes = [];
    for (const { target, line } of queue) await include(target, path, line, reader);
  };

  const openBlock = (patterns: string[], lineNo: number) => {
    if (patterns.length === 0) throw new LogrotateSyntaxError(path, lineNo, '{ without a path before it');
    block = { file: path, line: lineNo, patterns, directives: [...reader.defaults] };
  };

  for (const index = { i: 0 }; index.i < lines.length; index.i++) {
    const lineNo = index.i + 1;
    let body = lines[index.i]!.trim();
    if (body === '' || body.startsWith('#')) continue;
    if (pending) {
      // A path list may go on over several lines until its `{`.
      const brace = body.indexOf('{');
      if (!/^["'/~{]/.test(body)) throw new LogrotateSyntaxError(path, lineNo, `expected more paths or { after the paths at line ${pending.line}, found '${body}'`);
      pending.patterns.push(...splitWords(brace === -1 ? body : body.slice(0, brace), path, lineNo));
      if (brace === -1) continue;
      openBlock(pending.patterns, pending.line);
      pending = undefined;
      body = body.slice(brace + 1).trim();
      if (body === '' || body.startsWith('#')) continue;
    }
    if (!block && /^["'/~]/.test(body)) {
      const brace = body.indexOf('{');
      const patterns = splitWords(brace === -1 ? body : body.slice(0, brace), path, lineNo);
      if (brace === -1) {
        pending = { patterns, line: lineNo };
        continue;
      }
      openBlock(patterns, lineNo);
      body = body.slice(brace + 1).trim();
      if (body === '' || body.startsWith('#')) continue;
    }
    if (body.startsWith('{')) throw new LogrotateSyntaxError(path, lineNo, block ? 'a block cannot open inside another' : '{ without a path before it');
    if (block && /^["'/]/.test(body)) throw new LogrotateSyntaxError(path, lineNo, `a path inside the block opened at line ${block.line} (missing })`);
    if (body.startsWith('}') && body !== '}') throw new LogrotateSyntaxError(path, lineNo, `unexpected text after }: '${body.slice(1).trim()}'`);
    // `daily }` closes a one-line block; `}` alone closes the current one.
    const closing = body.endsWith('}');
    if (closing) body = body.slice(0, -1).trim();
    if (body !== '') directive(body, lineNo, index);
    if (closing) {
      if (!block) throw new LogrotateSyntaxError(path, lineNo, '} without a block to close');
      reader.blocks.push(block);
      block = undefined;
    }
    await runIncludes();
  }
  if (pending) throw new LogrotateSyntaxError(path, pending.line, `the paths ${pending.patterns.join(' ')} are not followed by {`);
  if (block) throw new LogrotateSyntaxError(path, block.line, 'the block opened here is never closed (missing })');
}

async function include(target: string, from: string, line: number, reader: Reader): Promise<void> {
  if (reader.depth >= 16) throw new LogrotateSyntaxError(from, line, `includes nested deeper than 16 (a loop through ${target}?)`);
  let info;
  try {
    info = await stat(target);
  } catch (err) {
    throw new LogrotateSyntaxError(from, line, `cannot include ${target}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  reader.depth++;
  try {
    if (!info.isDirectory()) {
      await readConfigFile(target, reader);
      return;
    }
    reader.includedDirs.push({ dir: target, taboo: [...reader.taboo] });
    const names = (await readdir(target)).filter((name) => !isTaboo(name, reader.taboo)).sort();
    for (const name of names) {
      // logrotate follows a symlink and skips what is not a regular file (a subdirectory).
      const file = await stat(join(target, name)).catch(() => undefined);
      if (file?.isFile()) await readConfigFile(join(target, name), reader);
    }
  } finally {
    reader.depth--;
  }
}

/**
 * Reads logrotate's config from `entry` (default /etc/logrotate.conf) with everything it includes.
 * Throws LogrotateSyntaxError naming the file and line for what logrotate would also refuse or misread.
 */
export async function parseLogrotate(entry = DEFAULT_LOGROTATE_CONF): Promise<ParsedConfig> {
  const reader: Reader = { files: [], includedDirs: [], blocks: [], defaults: [], taboo: [...DEFAULT_TABOO], depth: 0 };
  const info = await stat(entry).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read logrotate config ${entry}: ${err.code ?? err.message}`, { cause: err });
  });
  if (info.isDirectory()) await include(resolve(entry), entry, 0, reader);
  else await readConfigFile(resolve(entry), reader);
  return { files: reader.files, includedDirs: reader.includedDirs, blocks: reader.blocks };
}

/** A name for a block's logs entry: its file's name, with the block's rank when the file has several. */
export function blockName(block: Block, blocks: readonly Block[]): string {
  const sameFile = blocks.filter((b) => b.file === block.file);
  const base = basename(block.file).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 56) || 'logrotate';
  return sameFile.length === 1 ? base : `${base}-${sameFile.indexOf(block) + 1}`;
}
