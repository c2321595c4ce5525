import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { hasMagic, matchesAnyGlob, segmentRegExp } from './glob.js';
import { looksRotatedOrTemp } from './naming.js';

export interface LiveFile {
  /** The file's real path (no symlink in it); every operation uses this one. */
  path: string;
  size: number;
  ino: number;
  uid: number;
  gid: number;
  mode: number;
}

/** A path the set matched but will not touch, with the reason shown in status. */
export interface Refusal {
  path: string;
  reason: string;
}

export interface Discovery {
  files: LiveFile[];
  refused: Refusal[];
  /** Patterns that matched no file. */
  unmatched: string[];
}

/** Directories in which others could plant files or symlinks under names we are about to use. */
export async function unsafeDirectoryReason(dir: string): Promise<string | undefined> {
  const info = await stat(dir);
  if (!info.isDirectory()) return `${dir} is not a directory`;
  if (info.mode & 0o002) return `directory ${dir} is writable by others (mode ${(info.mode & 0o7777).toString(8)}); refusing to rotate there`;
  return undefined;
}

async function expandPattern(pattern: string): Promise<string[]> {
  const segments = pattern.split('/').slice(1);
  let candidates = ['/'];
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    const next: string[] = [];
    for (const dir of candidates) {
      if (!hasMagic(segment)) {
        next.push(join(dir, segment));
        continue;
      }
      const names = await readdir(dir).catch(() => [] as string[]);
      const regex = segmentRegExp(segment);
      for (const name of names) {
        // A wildcard never picks up a rotated file or one of our temp files as a live log.
        if (regex.test(name) && !(last && looksRotatedOrTemp(name))) next.push(join(dir, name));
      }
    }
    candidates = next;
  }
  return candidates.sort();
}

/**
 * The live files of a set. Symlinks are refused (never followed), a path whose real location is
 * outside every glob is refused, and so is a file in a directory writable by others.
 */
export async function discover(patterns: readonly string[]): Promise<Discovery> {
  const result: Discovery = { files: [], refused: [], unmatched: [] };
  const seen = new Set<string>();
  for (const pattern of patterns) {
    let matched = 0;
    for (const candidate of await expandPattern(pattern)) {
      const info = await lstat(candidate).catch(() => undefined);
      if (!info) continue;
      if (info.isSymbolicLink()) {
        matched++;
        result.refused.push({ path: candidate, reason: `${candidate} is a symlink; symlinks are never followed` });
        continue;
      }
      if (!info.isFile()) continue;
      matched++;
      const realDir = await realpath(dirname(candidate));
      const real = join(realDir, basename(candidate));
      if (seen.has(real)) continue;
      seen.add(real);
      if (!matchesAnyGlob(real, patterns)) {
        result.refused.push({ path: candidate, reason: `${candidate} is really ${real}, outside the configured paths` });
        continue;
      }
      const unsafe = await unsafeDirectoryReason(realDir);
      if (unsafe) {
        result.refused.push({ path: real, reason: unsafe });
        continue;
      }
      result.files.push({ path: real, size: info.size, ino: info.ino, uid: info.uid, gid: info.gid, mode: info.mode & 0o7777 });
    }
    if (matched === 0) result.unmatched.push(pattern);
  }
  return result;
}
