import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_SUFFIX, PARTIAL_SUFFIX, jobDir, parseBackupFileName } from './backup-files.js';
import { readManifest, type Manifest } from './manifest.js';

/** One finished backup on disk. */
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

/** A job's backups, newest first. */
export async function listBackups(dir: string, job: string, extension: string): Promise<BackupEntry[]> {
  const folder = jobDir(dir, job);
  const entries: BackupEntry[] = [];
  for (const file of await namesIn(folder)) {
    const time = parseBackupFileName(job, file, extension);
    if (!time) continue;
    const path = join(folder, file);
    const [manifest, info] = await Promise.all([readManifest(path), stat(path).catch(() => undefined)]);
    if (!info) continue;
    const entry: BackupEntry = { file, path, time, sizeBytes: info.size, verified: manifest?.verify.ok === true && manifest.sizeBytes === info.size };
    if (manifest) entry.manifest = manifest;
    entries.push(entry);
  }
  return entries.sort((a, b) => b.time.getTime() - a.time.getTime());
}

/**
 * Removes what an interrupted run left behind: `.partial` files, and manifests whose backup never got its
 * final name. Only called while no run of the job is in progress.
 */
export async function removeLeftovers(dir: string, job: string, extension: string): Promise<string[]> {
  const folder = jobDir(dir, job);
  const names = await namesIn(folder);
  const present = new Set(names);
  const removed: string[] = [];
  for (const name of names) {
    const partial = name.startsWith(`${job}-`) && name.endsWith(PARTIAL_SUFFIX);
    const backupName = name.endsWith(MANIFEST_SUFFIX) ? name.slice(0, -MANIFEST_SUFFIX.length) : undefined;
    const orphanManifest = backupName !== undefined && parseBackupFileName(job, backupName, extension) !== undefined && !present.has(backupName);
    if (partial || orphanManifest) {
      await unlink(join(folder, name)).catch(() => undefined);
      removed.push(name);
    }
  }
  return removed;
}

/** Deletes a backup and its manifest (retention). */
export async function deleteBackup(entry: BackupEntry): Promise<void> {
  await unlink(entry.path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await unlink(entry.path + MANIFEST_SUFFIX).catch(() => undefined);
}
