import type { Logger } from 'pino';
import { describeError } from '../../../agent/kit/errors.js';
import { listBackups } from '../catalog.js';
import type { BackupJob, BackupsConfig } from '../config.js';
import { kindOf } from '../kinds/table.js';
import { readManifest } from '../manifest.js';
import { REMOTE_PREFIX, fetchRemoteBackup } from '../remote/fetch.js';
import { verifyBackupFile } from '../verify.js';
import { DrillFailure, type DrilledBackup } from './drill.js';

export type DrillResult = 'success' | 'failure' | 'skipped';

export interface DrillOutcome {
  result: DrillResult;
  /** What was checked (success), or why the drill failed or was skipped. */
  message: string;
  /** The drilled backup's file name (`remote:<snapshot> <file>` from the remote), once one was chosen. */
  file?: string;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
}

export interface DrillSettings {
  config: BackupsConfig;
  stateDir: string;
  signal: AbortSignal;
  log: Logger;
  now: () => Date;
}

/** The backup a drill takes: the newest verified one on disk, or the newest snapshot fetched from the remote. */
async function drilledBackup(job: BackupJob, from: string, config: BackupsConfig, signal: AbortSignal): Promise<DrilledBackup & { cleanup?: () => Promise<void> }> {
  if (from === 'remote') {
    const fetched = await fetchRemoteBackup(config, job, `${REMOTE_PREFIX}latest`, signal);
    const manifest = await readManifest(fetched.path);
    if (!manifest) {
      await fetched.cleanup();
      throw new DrillFailure(`remote snapshot ${fetched.snapshot.shortId} has no readable manifest`);
    }
    return { path: fetched.path, file: `${REMOTE_PREFIX}${fetched.snapshot.shortId} ${manifest.file}`, manifest, cleanup: fetched.cleanup };
  }
  const newest = (await listBackups(config.dir, job.name, kindOf(job).extensions)).find((b) => b.verified);
  if (!newest?.manifest) throw new DrillFailure(`no verified backup of job '${job.name}' to drill`);
  return { path: newest.path, file: newest.file, manifest: newest.manifest };
}

/**
 * One restore drill: the newest verified backup of the job (local, or fetched from its remote), checked again
 * (sha256 and the kind's tool), then restored into the kind's scratch target and compared with the contents
 * its manifest records. A wrong copy is a result, not an exception. Bounded by the job's timeout.
 */
export async function runDrill(job: BackupJob, settings: DrillSettings): Promise<DrillOutcome> {
  const startedAt = settings.now();
  const done = (result: DrillResult, message: string, file?: string): DrillOutcome => {
    const finishedAt = settings.now();
    return { result, message, ...(file ? { file } : {}), startedAt, finishedAt, durationMs: finishedAt.getTime() - startedAt.getTime() };
  };
  const kind = kindOf(job);
  if (!kind.drill || !('drill' in job) || !job.drill) return done('skipped', `job '${job.name}' has no restore drill`);
  const unavailable = kind.drill.unavailable?.();
  if (unavailable) return done('skipped', unavailable);
  const timeout = AbortSignal.timeout(job.timeout);
  const signal = AbortSignal.any([settings.signal, timeout]);
  let file: string | undefined;
  let backup: Awaited<ReturnType<typeof drilledBackup>> | undefined;
  try {
    backup = await drilledBackup(job, job.drill.from, settings.config, signal);
    file = backup.file;
    const verify = await verifyBackupFile(job, backup.path, backup.manifest.sha256, signal);
    if (!verify.ok) return done('failure', `verification failed: ${verify.message ?? 'unknown cause'}`, file);
    const log = settings.log.child({ file });
    const path = backup.path;
    const restore = async (to: string) => void (await kind.restore(job, path, { to, signal, log, scratch: true }));
    const checked = await kind.drill.run(job, backup, { stateDir: settings.stateDir, signal, log, restore });
    return done('success', `${verify.method}; ${checked}`, file);
  } catch (err) {
    if (timeout.aborted) return done('failure', `timed out after ${job.timeout / 1000} s (${describeError(err)})`, file);
    if (settings.signal.aborted) return done('failure', 'cancelled', file);
    return done('failure', err instanceof DrillFailure ? err.message : describeError(err), file);
  } finally {
    await backup?.cleanup?.();
  }
}
