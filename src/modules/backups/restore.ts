import { readdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { CaretakerError, NotFoundError } from '../../agent/kit/errors.js';
import { jobDir } from './backup-files.js';
import { listBackups } from './catalog.js';
import type { BackupJob, BackupsConfig } from './config.js';
import { kindOf } from './kinds/table.js';
import { readManifest } from './manifest.js';
import { verifyBackupFile, verifyCompanions, type VerifyResult } from './verify.js';

export function findJob(config: BackupsConfig, name: string): BackupJob {
  const job = config.jobs.find((j) => j.name === name);
  if (!job) throw new NotFoundError('backup job', name);
  return job;
}

/**
 * A FILE argument as users give it: a path, a file name in the job's directory, or `latest`
 * (the newest verified backup).
 */
export async function resolveBackupFile(config: BackupsConfig, job: BackupJob, file: string): Promise<string> {
  if (file === 'latest') {
    const newest = (await listBackups(config.dir, job.name, kindOf(job).extensions)).find((b) => b.verified);
    if (!newest) throw new NotFoundError(`verified backup of job '${job.name}'`, 'latest');
    return newest.path;
  }
  if (isAbsolute(file) || file.includes('/')) return resolve(file);
  return join(jobDir(config.dir, job.name), file);
}

/**
 * A backup is a regular file or a directory of them (pg_dump -Fd). Anything else is refused before it is
 * read: a device such as /dev/zero never ends, and a FIFO blocks the reader until someone writes to it.
 */
async function refuseSpecialFile(path: string, inside = false): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  // A missing file is reported by the read that follows, with its errno.
  if (!info) return;
  if (info.isDirectory() && !inside) {
    for (const name of await readdir(path)) await refuseSpecialFile(join(path, name), true);
  } else if (!info.isFile() && !info.isDirectory()) {
    throw new CaretakerError(400, 'bad_request', `${path} is not a regular file (a device, FIFO or socket); give a backup file, its name in the job directory, or 'latest'`);
  }
}

/** Re-checks one backup (checksum against its manifest, then the kind's tool); works with the daemon stopped. */
export async function verifyBackup(config: BackupsConfig, jobName: string, file: string, signal: AbortSignal): Promise<VerifyResult & { path: string; hasManifest: boolean; companions: string[] }> {
  const job = findJob(config, jobName);
  const path = await resolveBackupFile(config, job, file);
  await refuseSpecialFile(path);
  const manifest = await readManifest(path);
  const result = await verifyBackupFile(job, path, manifest?.sha256, signal);
  const companions = manifest?.companions ?? [];
  if (!result.ok || companions.length === 0) return { ...result, path, hasManifest: manifest !== undefined, companions: [] };
  const problem = await verifyCompanions(job, path, companions, signal);
  const checked = companions.map((c) => join(dirname(path), c.file));
  if (problem) return { ...result, ok: false, message: problem, path, hasManifest: true, companions: checked };
  return { ...result, method: `${result.method}; ${companions.map((c) => `${c.suffix}: sha256 + ${c.method}`).join(', ')}`, path, hasManifest: true, companions: checked };
}

export interface RestoreRequest {
  job: string;
  file: string;
  /** Target URL (or directory for files jobs); the job's own source when absent. */
  to?: string;
  /** Apply the backup's companions (postgres globals) first; default true. */
  companions?: boolean;
  signal: AbortSignal;
  log: Logger;
}

/** Where a restore would go, for the confirmation question; no I/O. */
export function restoreTarget(config: BackupsConfig, jobName: string, to: string | undefined): string {
  const job = findJob(config, jobName);
  return kindOf(job).describeTarget(job, to);
}

/**
 * Restores one backup after checking it; runs in the CLI process, so it works with the daemon stopped.
 * A file that fails its checksum or the tool check is refused before anything is written.
 */
export async function restoreBackup(config: BackupsConfig, request: RestoreRequest): Promise<{ path: string; verify: VerifyResult; notes: string[] }> {
  const job = findJob(config, request.job);
  const verified = await verifyBackup(config, request.job, request.file, request.signal);
  if (!verified.ok) throw new Error(`refusing to restore ${verified.path}: ${verified.message ?? 'verification failed'}`);
  const kind = kindOf(job);
  const options = { to: request.to, signal: request.signal, log: request.log };
  /** What is left to do by hand (role passwords a managed server's backup could not hold). */
  const notes: string[] = [];
  // Roles before the database: its ALTER … OWNER TO and GRANTs need them.
  if (request.companions !== false) {
    const manifest = await readManifest(verified.path);
    for (const record of manifest?.companions ?? []) {
      const companion = kind.companions?.find((c) => c.suffix === record.suffix);
      const note = await companion?.restore(job, join(dirname(verified.path), record.file), options, record.details);
      if (note) notes.push(note);
    }
  }
  // A kind's own line (how many Redis keys went which way) is printed with the notes.
  const said = await kind.restore(job, verified.path, options);
  if (said) notes.push(said);
  return { path: verified.path, verify: verified, notes };
}
