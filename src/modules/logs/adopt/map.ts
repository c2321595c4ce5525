import { logSetSchema } from '../config.js';
import { blockName, LogrotateSyntaxError, type Block, type Directive } from './parse.js';

/** A directive the logs module has no equivalent for, where it stands and in which block it applies. */
export interface Unsupported {
  file: string;
  line: number;
  directive: string;
  /** The block it applies to (`file:line`), which differs from file:line for a default set earlier. */
  block: string;
  reason: string;
}

/** One logrotate block as a `logs` entry (the YAML object), or why it cannot be one. */
export interface MappedBlock {
  name: string;
  block: Block;
  entry: Record<string, unknown>;
  unsupported: Unsupported[];
  /** What the entry cannot hold even without the unsupported directives (a relative path): never adopted. */
  invalid: Unsupported[];
  /** Differences that do not change what is rotated when, written as comments beside the entry. */
  notes: string[];
}

const EVERY = { hourly: 'hourly', daily: 'daily', weekly: 'weekly', monthly: 'monthly' } as const;

/** Directives that ask for what caretaker does anyway: no mail, no copy, no shredding. */
const NO_OPS = new Set(['nomail', 'nocopy', 'noshred']);

const WHY: Record<string, string> = {
  yearly: 'caretaker rotates hourly, daily, weekly or monthly',
  prerotate: 'caretaker runs no script before a rotation',
  firstaction: 'caretaker runs no script before a rotation',
  lastaction: 'caretaker runs one reopen command per set, after the renames (postrotate)',
  preremove: 'caretaker runs no script before deleting a rotated file',
  nocreate: 'caretaker always creates the new live file (or keeps it with copyTruncate)',
  mail: 'caretaker does not mail rotated logs',
  mailfirst: 'caretaker does not mail rotated logs',
  maillast: 'caretaker does not mail rotated logs',
  compresscmd: 'caretaker compresses with gzip only',
  uncompresscmd: 'caretaker compresses with gzip only',
  compressext: 'caretaker compresses with gzip only (.gz)',
  compressoptions: 'caretaker compresses with gzip only (level 6, or compress.level)',
  copy: 'caretaker either renames or copies and truncates',
  renamecopy: 'caretaker renames within one filesystem (olddir must be on it)',
  shred: 'caretaker deletes rotated files without shredding',
  extension: 'caretaker names rotated files after the whole live file name',
  addextension: 'caretaker names rotated files after the whole live file name',
  start: 'caretaker numbers rotated files from 1',
  minage: 'caretaker prunes by keep and maxAge only',
  dateyesterday: 'caretaker stamps rotated files with the time of the rotation',
  datehourago: 'caretaker stamps rotated files with the time of the rotation',
  createolddir: 'caretaker creates a missing olddir itself (mode 0750)',
  nocreateolddir: 'caretaker creates a missing olddir itself (mode 0750)',
  allowhardlink: 'caretaker never rotates a file with several hard links',
};

/** logrotate's sizes: bytes, or k / M / G (powers of 1024), an optional leading +. */
function parseLogrotateSize(d: Directive): number {
  const match = /^\+?(\d+)([kKmMgG]?)$/.exec(d.args.join(' '));
  if (!match || d.args.length !== 1) throw new LogrotateSyntaxError(d.file, d.line, `${d.name} needs one size such as 100k, 10M or 1G, found '${d.args.join(' ')}'`);
  const factor = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(match[1]) * factor;
}

function parseCount(d: Directive, what: string): number {
  if (d.args.length !== 1 || !/^-?\d+$/.test(d.args[0]!)) throw new LogrotateSyntaxError(d.file, d.line, `${d.name} needs one number (${what}), found '${d.args.join(' ')}'`);
  return Number(d.args[0]);
}

/** A size the logs config reads back to the same bytes, in the largest whole unit. */
export function sizeText(bytes: number): string {
  for (const [unit, factor] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) if (bytes % factor === 0 && bytes >= factor) return `${bytes / factor}${unit}`;
  return `${bytes}B`;
}

/** A script as one command: its lines without their common indentation. */
export function scriptCommand(script: string): string {
  const lines = script.split('\n').filter((l) => l.trim() !== '');
  const indent = Math.min(...lines.map((l) => /^\s*/.exec(l)![0].length));
  return lines.map((l) => l.slice(indent).trimEnd()).join('\n');
}

function checkArity(d: Directive, min: number, max: number): void {
  if (d.args.length < min || d.args.length > max) {
    const extra = d.args.find((a) => a.startsWith('#'));
    throw new LogrotateSyntaxError(d.file, d.line, `${d.name} takes ${min === max ? min : `${min} to ${max}`} argument(s), found '${d.args.join(' ')}'${extra ? ' (logrotate allows no comment after arguments)' : ''}`);
  }
}

/** Debian's web server hook (nginx, apache2): `if [ -d DIR ]; then run-parts DIR; fi`, a no-op while DIR holds nothing. */
const RUN_PARTS_HOOK = /^if \[ -d (\S+) \]; then\s*\\?\s*run-parts \1;\s*\\?\s*fi\s*\\?$/;

export interface MapContext {
  /** Whether a directory is missing or empty (a prerotate hook directory with nothing to run). */
  emptyDir(path: string): boolean;
}

/** Maps one block; throws LogrotateSyntaxError for a value logrotate itself would refuse. */
export function mapBlock(block: Block, blocks: readonly Block[], context: MapContext): MappedBlock {
  const name = blockName(block, blocks);
  const where = `${block.file}:${block.line}`;
  const unsupported: Unsupported[] = [];
  const notes: string[] = [];
  const refuse = (d: Directive, reason: string) => unsupported.push({ file: d.file, line: d.line, directive: d.name, block: where, reason });

  let criterium: { every: string } | { size: number } = { size: 1024 * 1024 };
  let maxSize: number | undefined;
  let minSize: number | undefined;
  let keep = 0;
  let maxAge: number | undefined;
  let compress = false;
  let delayCompress = false;
  let missingOk = false;
  let notIfEmpty = false;
  let copyTruncate = false;
  let dateext = false;
  let olddir: string | undefined;
  let create: Record<string, string> | undefined;
  let shared = false;
  let postrotate: Directive | undefined;

  for (const d of block.directives) {
    switch (d.name) {
      case 'hourly':
      case 'daily':
      case 'monthly':
        checkArity(d, 0, 0);
        criterium = { every: EVERY[d.name] };
        break;
      case 'weekly':
        checkArity(d, 0, 1);
        if (d.args[0] !== undefined && !/^[0-7]$/.test(d.args[0])) throw new LogrotateSyntaxError(d.file, d.line, `weekly takes a weekday 0-7, found '${d.args[0]}'`);
        if (d.args[0] !== undefined && d.args[0] !== '1') notes.push(`${d.file}:${d.line}: 'weekly ${d.args[0]}': caretaker's weeks start on Monday`);
        criterium = { every: 'weekly' };
        break;
      case 'yearly':
        checkArity(d, 0, 0);
        criterium = { every: 'yearly' };
        break;
      case 'size':
        criterium = { size: parseLogrotateSize(d) };
        break;
      case 'maxsize':
        maxSize = parseLogrotateSize(d);
        break;
      case 'minsize':
        minSize = parseLogrotateSize(d);
        break;
      case 'rotate':
        keep = parseCount(d, 'rotated files kept');
        break;
      case 'maxage':
        maxAge = parseCount(d, 'days');
        break;
      case 'compress':
      case 'delaycompress':
      case 'missingok':
      case 'notifempty':
      case 'copytruncate':
      case 'dateext':
      case 'sharedscripts':
        checkArity(d, 0, 0);
        if (d.name === 'compress') compress = true;
        else if (d.name === 'delaycompress') delayCompress = true;
        else if (d.name === 'missingok') missingOk = true;
        else if (d.name === 'notifempty') notIfEmpty = true;
        else if (d.name === 'copytruncate') copyTruncate = true;
        else if (d.name === 'dateext') dateext = true;
        else shared = true;
        break;
      case 'nocompress':
        compress = false;
        break;
      case 'nodelaycompress':
        delayCompress = false;
        break;
      case 'nomissingok':
        missingOk = false;
        break;
      case 'ifempty':
        notIfEmpty = false;
        break;
      case 'nocopytruncate':
        copyTruncate = false;
        break;
      case 'nodateext':
        dateext = false;
        break;
      case 'nosharedscripts':
        shared = false;
        break;
      case 'noolddir':
        olddir = undefined;
        break;
      case 'dateformat':
        checkArity(d, 1, 1);
        notes.push(`${d.file}:${d.line}: 'dateformat ${d.args[0]}': caretaker's dateext stamp is -YYYYMMDDTHHMMSSZ (UTC); files logrotate named ${d.args[0]} are not pruned`);
        break;
      case 'olddir':
        checkArity(d, 1, 1);
        olddir = d.args[0];
        break;
      case 'su':
        checkArity(d, 1, 2);
        notes.push(`${d.file}:${d.line}: 'su ${d.args.join(' ')}' is not needed: caretaker rotates with its own capabilities (CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_FOWNER)`);
        break;
      case 'create': {
        checkArity(d, 0, 3);
        const [mode, owner, group] = d.args;
        if (mode !== undefined && !/^0?[0-7]{3}$/.test(mode)) throw new LogrotateSyntaxError(d.file, d.line, `create takes an octal mode such as 0640 first, found '${mode}'`);
        create = { ...(owner !== undefined ? { owner } : {}), ...(group !== undefined ? { group } : {}), ...(mode !== undefined ? { mode: mode.padStart(4, '0') } : {}) };
        break;
      }
      case 'postrotate':
        postrotate = d;
        break;
      case 'prerotate': {
        const hook = RUN_PARTS_HOOK.exec(scriptCommand(d.script ?? '').replace(/\n/g, ' '));
        if (hook && context.emptyDir(hook[1]!)) notes.push(`${d.file}:${d.line}: prerotate only runs the scripts of ${hook[1]}, which has none`);
        else refuse(d, hook ? `caretaker runs no script before a rotation (${hook[1]} holds scripts)` : WHY.prerotate!);
        break;
      }
      default:
        if (NO_OPS.has(d.name)) break;
        refuse(d, WHY[d.name] ?? `'${d.name}' is not a logrotate directive caretaker knows`);
    }
  }

  const patterns = block.patterns;
  const rotate: Record<string, unknown> = {};
  if ('size' in criterium) {
    rotate.maxSize = sizeText(criterium.size);
  } else if (criterium.every === 'yearly') {
    refuse(block.directives.findLast((d) => d.name === 'yearly')!, WHY.yearly!);
  } else {
    rotate.every = criterium.every;
    if (maxSize !== undefined) rotate.maxSize = sizeText(maxSize);
    if (minSize !== undefined) rotate.minSize = sizeText(minSize);
  }
  if (keep < 0) refuse(block.directives.findLast((d) => d.name === 'rotate')!, 'caretaker keeps a fixed number of rotated files (rotate -1 keeps them all)');

  const entry: Record<string, unknown> = { name, paths: patterns, rotate, keep: Math.max(keep, 0) };
  if (maxAge !== undefined && maxAge > 0) entry.maxAge = `${maxAge}d`;
  if (compress) entry.compress = true;
  if (compress && delayCompress) entry.delayCompress = true;
  entry.naming = dateext ? 'dateext' : 'numbered';
  if (olddir !== undefined) entry.olddir = olddir;
  if (notIfEmpty) entry.notIfEmpty = true;
  if (missingOk) entry.missingOk = true;
  if (postrotate) {
    const command = scriptCommand(postrotate.script ?? '');
    if (copyTruncate) refuse(postrotate, 'caretaker runs no command with copyTruncate');
    else if (!shared && /\$[12@*]/.test(command)) refuse(postrotate, 'without sharedscripts logrotate runs it once per file with the file as $1; caretaker runs it once per set without arguments');
    else if (command !== '') entry.reopen = { command };
  }
  if (copyTruncate) entry.copyTruncate = true;
  else if (create !== undefined && Object.keys(create).length > 0) entry.create = create;

  // What logrotate accepts but a logs entry cannot hold (a relative path): said, never written.
  const checked = logSetSchema.safeParse(entry);
  const invalid = checked.success ? [] : checked.error.issues.map((issue) => ({ file: block.file, line: block.line, directive: issue.path.join('.') || 'block', block: where, reason: issue.message }));
  return { name, block, entry, unsupported, invalid, notes };
}
