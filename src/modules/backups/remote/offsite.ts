import { mkdir, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { describeError } from '../../../agent/kit/errors.js';
import type { BackupJob } from '../config.js';
import { manifestPathFor, readManifest, writeManifest } from '../manifest.js';
import type { RemoteConfig } from './config.js';
import { Restic, RemoteError, type RemoteFailure } from './restic.js';

/** The off-site part of one run. */
export interface RemoteOutcome {
  result: 'success' | 'failure';
  failure?: RemoteFailure;
  message?: string;
  snapshot?: string;
  addedBytes?: number;
  durationMs: number;
  finishedAt: Date;
}

export interface OffsiteSettings {
  signal: AbortSignal;
  log: Logger;
  now: () => Date;
  /** restic's cache: remote.cacheDir, else the module's state dir. */
  cacheDir: string;
  timeoutMs: number;
}

/** Below this much free space restic cannot keep its cache, and quietly runs without one; the run says so instead. */
const CACHE_MIN_FREE_BYTES = 32 * 1024 * 1024;

export const jobTag = (job: string) => `job=${job}`;

/** PostgreSQL custom dumps compressed by pg_dump defeat restic's deduplication: dump them with -Z0 when restic compresses. */
export function dumpSettingsFor(job: BackupJob, remote: RemoteConfig | undefined): BackupJob {
  if (!remote || remote.compression === 'off' || job.type !== 'postgres' || job.compress !== undefined) return job;
  return { ...job, compress: 0 };
}

async function checkCacheSpace(cacheDir: string): Promise<void> {
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const info = await statfs(cacheDir);
  const free = info.bavail * info.bsize;
  if (free < CACHE_MIN_FREE_BYTES) {
    throw new RemoteError(
      `restic cache dir ${cacheDir} is on a full filesystem (${free} bytes free, restic needs at least ${CACHE_MIN_FREE_BYTES}); free space there or set remote.cacheDir to another filesystem`,
      'error',
    );
  }
}

/**
 * Sends one verified backup (the file or directory, its companions and its manifest) with restic backup,
 * tagged job=, kind=, sha256=; records the snapshot in the manifest, then applies the remote retention.
 * Never throws: a failure is the outcome, and the local backup stays as it is.
 */
export async function sendOffsite(job: BackupJob, remote: RemoteConfig, backupPath: string, settings: OffsiteSettings): Promise<RemoteOutcome> {
  const { log, signal, now } = settings;
  const started = now();
  const restic = new Restic(remote, remote.cacheDir ?? settings.cacheDir);
  const failed = (err: unknown): RemoteOutcome => {
    const finishedAt = now();
    return {
      result: 'failure',
      failure: err instanceof RemoteError ? err.failure : 'error',
      message: err instanceof RemoteError ? err.message : describeError(err),
      durationMs: finishedAt.getTime() - started.getTime(),
      finishedAt,
    };
  };
  let summary;
  try {
    const manifest = await readManifest(backupPath);
    if (!manifest?.verify.ok) throw new Error(`${backupPath} has no manifest of a passed verification; only verified backups are sent off-site`);
    await checkCacheSpace(remote.cacheDir ?? settings.cacheDir);
    await restic.ensureRepository(signal);
    const stale = await restic.unlockStale(signal);
    if (stale > 0) log.info({ locks: stale }, 'removed stale restic locks of a killed run');
    const folder = dirname(backupPath);
    const paths = [backupPath, ...manifest.companions.map((c) => join(folder, c.file)), manifestPathFor(backupPath)];
    const tags = [jobTag(job.name), `kind=${job.type}`, `sha256=${manifest.sha256}`];
    summary = await restic.backup(paths, tags, new Date(manifest.startedAt), signal, settings.timeoutMs);
    await writeManifest(backupPath, {
      ...manifest,
      remote: { repository: restic.repository, snapshot: summary.snapshotId, addedBytes: summary.addedBytes, durationMs: summary.durationMs, at: now().toISOString() },
    });
  } catch (err) {
    return failed(err);
  }
  const policy = remote.retention ?? job.retention;
  if (policy) {
    try {
      const removed = await restic.forget(jobTag(job.name), policy, signal);
      if (removed.length > 0) log.info({ snapshots: removed.length }, 'old remote snapshots forgotten');
    } catch (err) {
      log.error({ err: describeError(err) }, 'remote retention failed');
    }
  }
  const finishedAt = now();
  return { result: 'success', snapshot: summary.snapshotId, addedBytes: summary.addedBytes, durationMs: finishedAt.getTime() - started.getTime(), finishedAt };
}

/** The scheduled check of a job's repository (restic check --read-data-subset), after removing this host's stale locks. */
export async function checkRemote(remote: RemoteConfig, cacheDir: string, readDataSubset: string, signal: AbortSignal): Promise<void> {
  const restic = new Restic(remote, remote.cacheDir ?? cacheDir);
  await restic.unlockStale(signal);
  await restic.check(readDataSubset, signal);
}
