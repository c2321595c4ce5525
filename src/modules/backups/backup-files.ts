import { join } from 'node:path';

/**
 * How backups are named on disk: `<dir>/<job>/<job>-<UTC timestamp>.<ext>`, written first as
 * `….partial` and described by `….json` (the manifest). The name alone tells job and time.
 */
export const PARTIAL_SUFFIX = '.partial';
export const MANIFEST_SUFFIX = '.json';

export function jobDir(dir: string, job: string): string {
  return join(dir, job);
}

/** `20240131T020000.123Z`: sorts as time, no characters a shell or a URL would trip on. */
export function fileTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '');
}

export function backupFileName(job: string, date: Date, extension: string): string {
  return `${job}-${fileTimestamp(date)}.${extension}`;
}

const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;
/** Length of `20240131T020000.123Z`. */
const STAMP_LENGTH = 20;

/** The time in a backup's name, or undefined when the name is not one of this job's backups. */
export function parseBackupFileName(job: string, name: string, extensions: readonly string[]): Date | undefined {
  const prefix = `${job}-`;
  const extension = extensions.find((e) => name.endsWith(`.${e}`));
  if (!name.startsWith(prefix) || extension === undefined) return undefined;
  const match = STAMP.exec(name.slice(prefix.length, name.length - extension.length - 1));
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, ms] = match.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!));
}

/**
 * The backup a sidecar belongs to: `pg-20240131T020000.000Z.dump` for its manifest `….dump.json` or its
 * companion `….dump.globals.sql`; undefined for anything else (a backup itself, a partial, a stranger).
 */
export function sidecarOwner(job: string, name: string, extensions: readonly string[]): string | undefined {
  const stampEnd = job.length + 1 + STAMP_LENGTH;
  for (const extension of extensions) {
    const base = name.slice(0, stampEnd + 1 + extension.length);
    if (name.length > base.length && name[base.length] === '.' && !name.endsWith(PARTIAL_SUFFIX) && parseBackupFileName(job, base, [extension])) return base;
  }
  return undefined;
}
