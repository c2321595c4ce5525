import { readdir, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MANIFEST_SUFFIX, PARTIAL_SUFFIX, jobDir, parseBackupFileName, sidecarOwner } from './backup-files.js';
import { sizeOf } from './digest.js';
import { readManifest, type Manifest } from './manifest.js';

/** One finished backup on disk: a file, or a directory for pg_dump's directory format. */
export interface BackupEntry {
  file: string;
  path: string;
  /** When the run started (from the file name). */
  time: Date;
  sizeBytes: number;
  /** A manifest exists and its verification passed. */
  verified: boolean;
  manifest?: Manifest;
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** A job's backups (any of `extensions`), newest first. */
export async function listBackups(dir: string, job: string, extensions: readonly string[]): Promise<BackupEntry[]> {
  const folder = jobDir(dir, job);
  const entries: BackupEntry[] = [];
  for (const file of await namesIn(folder)) {
    const time = parseBackupFileName(job, file, extensions);
    if (!time) continue;
    const path = join(folder, file);
    const [manifest, size] = await Promise.all([readManifest(path), sizeOf(path).catch(() => undefined)]);
    if (size === undefined) continue;
    const entry: BackupEntry = { file, path, time, sizeBytes: size, verified: manifest?.verify.ok === true && manifest.sizeBytes === size };
    if (manifest) entry.manifest = manifest;
    entries.push(entry);
  }
  return entries.sort((a, b) => b.time.getTime() - a.time.getTime());
}

/**
 * Removes what an interrupted run left behind: `.partial` files and directories, and sidecars (manifests,
 * companions such as `….globals.sql`) whose backup never got its final name. Only called while no run of
 * the job is in progress.
 */
export async function removeLeftovers(dir: string, job: string, extensions: readonly string[]): Promise<string[]> {
  const folder = jobDir(dir, job);
  const names = await namesIn(folder);
  const present = new Set(names);
  const removed: string[] = [];
  for (const name of names) {
    const partial = name.startsWith(`${job}-`) && name.endsWith(PARTIAL_SUFFIX);
    const owner = sidecarOwner(job, name, extensions);
    if (partial || (owner !== undefined && !present.has(owner))) {
      await rm(join(folder, name), { recursive: true, force: true }).catch(() => undefined);
      removed.push(name);
    }
  }
  return removed;
}

/** Deletes a backup (file or directory), its companions and, last, its manifest (retention). */
export async function deleteBackup(entry: BackupEntry): Promise<void> {
  await rm(entry.path, { recursive: true, force: true });
  const folder = dirname(entry.path);
  for (const companion of entry.manifest?.companions ?? []) await unlink(join(folder, companion.file)).catch(() => undefined);
  await unlink(entry.path + MANIFEST_SUFFIX).catch(() => undefined);
}
