import { tempTargetName } from '../../agent/kit/atomic-file.js';
import type { Naming } from './config.js';

/**
 * Names of rotated files, and the only test of "was this file made by rotation": pruning deletes
 * nothing that parseRotated does not recognise as a rotation of a live file.
 *
 * dateext:  <base>-<YYYYMMDD>T<HHMMSS>Z[-<n>][.gz]   (UTC; -<n> only when two rotations share a second)
 * numbered: <base>.<n>[.gz]                           (1 is the newest)
 */
export interface RotatedFile {
  name: string;
  /** The live file's base name this was rotated from. */
  base: string;
  compressed: boolean;
  /** dateext: rotation time from the name (ms since epoch). */
  stampMs?: number;
  /** dateext: tie-breaker within one second; numbered: the number. */
  index: number;
}

export const GZIP_SUFFIX = '.gz';

const DATE_SUFFIX = /-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-(\d{1,4}))?(\.gz)?$/;
const NUMBER_SUFFIX = /\.(\d{1,5})(\.gz)?$/;

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** `20261123T150405Z` for an instant, in UTC so names sort and never jump with DST. */
export function dateStamp(at: Date): string {
  return (
    `${pad(at.getUTCFullYear(), 4)}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}` +
    `T${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}Z`
  );
}

export function parseRotated(base: string, fileName: string, naming: Naming): RotatedFile | undefined {
  if (!fileName.startsWith(base) || fileName.length === base.length) return undefined;
  const rest = fileName.slice(base.length);
  if (naming === 'dateext') {
    const match = DATE_SUFFIX.exec(rest);
    if (!match || match.index !== 0) return undefined;
    const [, y, mo, d, h, mi, s, seq, gz] = match;
    const stampMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    if (Number.isNaN(stampMs) || dateStamp(new Date(stampMs)) !== rest.slice(1, 17)) return undefined;
    return { name: fileName, base, compressed: gz !== undefined, stampMs, index: seq === undefined ? 1 : Number(seq) };
  }
  const match = NUMBER_SUFFIX.exec(rest);
  if (!match || match.index !== 0 || Number(match[1]) < 1) return undefined;
  return { name: fileName, base, compressed: match[2] !== undefined, index: Number(match[1]) };
}

/**
 * Whether `fileName` is the temp file compress.ts writes a compressed rotation of `base` into: what a kill
 * during compression leaves behind. Nothing else in a log directory is ever removed as a leftover.
 */
export function isCompressionTemp(base: string, fileName: string, naming: Naming): boolean {
  const target = tempTargetName(fileName);
  return target !== undefined && parseRotated(base, target, naming)?.compressed === true;
}

/** Whether a name looks like any rotated file or a temp file, so globs such as `dir/*` never pick them up as live logs. */
export function looksRotatedOrTemp(fileName: string): boolean {
  if (fileName.startsWith('.')) return true;
  if (fileName.endsWith(GZIP_SUFFIX)) return true;
  return DATE_SUFFIX.test(fileName) || /\.\d{1,5}$/.test(fileName);
}

/** Newest first: by stamp then sequence for dateext, by number for numbered. */
export function newestFirst(a: RotatedFile, b: RotatedFile): number {
  if (a.stampMs !== undefined && b.stampMs !== undefined && a.stampMs !== b.stampMs) return b.stampMs - a.stampMs;
  if (a.stampMs !== undefined) return b.index - a.index;
  return a.index - b.index;
}

/** The uncompressed name for a new dateext rotation; `taken` holds names in the target directory. */
export function nextDateName(base: string, at: Date, taken: ReadonlySet<string>): string {
  const stem = `${base}-${dateStamp(at)}`;
  for (let seq = 1; seq < 10_000; seq++) {
    const name = seq === 1 ? stem : `${stem}-${seq}`;
    if (!taken.has(name) && !taken.has(name + GZIP_SUFFIX)) return name;
  }
  throw new Error(`more than 9999 rotations of ${base} within one second`);
}

/**
 * Renames that make room for a new `<base>.1`: highest number first so nothing is overwritten.
 * Files beyond `keep` are not shifted (pruning deletes them afterwards).
 */
export function numberedShiftPlan(base: string, existing: readonly RotatedFile[]): Array<{ from: string; to: string }> {
  return [...existing]
    .sort((a, b) => b.index - a.index)
    .map((file) => ({
      from: file.name,
      to: `${base}.${file.index + 1}${file.compressed ? GZIP_SUFFIX : ''}`,
    }));
}

export function compressedName(name: string): string {
  return name + GZIP_SUFFIX;
}
