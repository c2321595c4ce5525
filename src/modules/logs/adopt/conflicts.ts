import { readdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hasMagic, matchesGlob, matchesSegment } from '../glob.js';
import type { LogsConfig } from '../config.js';
import { parseLogrotate } from './parse.js';

/** A log set path that an active logrotate block rotates too. */
export interface LogrotateConflict {
  log: string;
  path: string;
  /** The logrotate block, `file:line`, and its pattern. */
  logrotate: string;
  pattern: string;
  /** What ends the conflict. */
  resolve: string;
}

/**
 * Whether two absolute globs can name one file: the same segments, a literal that the other matches,
 * or, for two wildcards in one literal directory, a file there both match (read from the directory).
 */
async function overlap(a: string, b: string): Promise<boolean> {
  if (a === b || matchesGlob(a, b) || matchesGlob(b, a)) return true;
  const as = a.split('/');
  const bs = b.split('/');
  if (as.length !== bs.length) return false;
  const last = as.length - 1;
  for (let i = 0; i < last; i++) {
    if (!matchesSegment(as[i]!, bs[i]!) && !matchesSegment(bs[i]!, as[i]!) && !(hasMagic(as[i]!) && hasMagic(bs[i]!))) return false;
  }
  const dir = dirname(a);
  if (hasMagic(dir) || dir !== dirname(b)) return true;
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.some((name) => matchesSegment(name, as[last]!) && matchesSegment(name, bs[last]!));
}

/** The paths of `config` that the logrotate config read from `conf` also rotates. Throws when it cannot be read. */
export async function findLogrotateConflicts(config: LogsConfig, conf: string): Promise<LogrotateConflict[]> {
  const parsed = await parseLogrotate(conf);
  const conflicts: LogrotateConflict[] = [];
  for (const set of config) {
    for (const path of set.paths) {
      for (const block of parsed.blocks) {
        for (const pattern of block.patterns) {
          if (!(await overlap(path, pattern))) continue;
          conflicts.push({ log: set.name, path, logrotate: `${block.file}:${block.line}`, pattern, resolve: `caretaker adopt logrotate ${block.file}` });
        }
      }
    }
  }
  return conflicts;
}
