import type { Logger } from 'pino';
import { describeError } from '../../../agent/kit/errors.js';
import { listBackups } from '../catalog.js';
import type { BackupJob } from '../config.js';
import { kindOf } from '../kinds/table.js';
import { verifyBackupFile } from '../verify.js';
import { DrillFailure } from './drill.js';

export type DrillResult = 'success' | 'failure' | 'skipped';

export interface DrillOutcome {
  result: DrillResult;
  /** What was checked (success), or why the drill failed or was skipped. */
  message: string;
  /** The drilled backup's file name, once one was chosen. */
  file?: string;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
}

export interface DrillSettings {
  dir: string;
  stateDir: string;
  signal: AbortSignal;
  log: Logger;
  now: () => Date;
}

/**
 * One restore drill: the newest verified backup of the job, checked again (sha256 and the kind's tool), then
 * restored into the kind's scratch target and compared with the contents its manifest records. A wrong copy
 * is a result, not an exception. Bounded by the job's timeout.
 */
export async function runDrill(job: BackupJob, settings: DrillSettings): Promise<DrillOutcome> {
  const startedAt = settings.now();
  const done = (result: DrillResult, message: string, file?: string): DrillOutcome => {
    const finishedAt = settings.now();
    return { result, message, ...(file ? { file } : {}), startedAt, finishedAt, durationMs: finishedAt.getTime() - startedAt.getTime() };
  };
  const kind = kindOf(job);
  if (!kind.drill) return done('skipped', `${job.type} jobs have no restore drill`);
  const unavailable = kind.drill.unavailable?.();
  if (unavailable) return done('skipped', unavailable);
  const timeout = AbortSignal.timeout(job.timeout);
  const signal = AbortSignal.any([settings.signal, timeout]);
  let file: string | undefined;
  try {
    const newest = (await listBackups(settings.dir, job.name, kind.extensions)).find((b) => b.verified);
    if (!newest?.manifest) return done('failure', `no verified backup of job '${job.name}' to drill`);
    file = newest.file;
    const verify = await verifyBackupFile(job, newest.path, newest.manifest.sha256, signal);
    if (!verify.ok) return done('failure', `verification failed: ${verify.message ?? 'unknown cause'}`, file);
    const log = settings.log.child({ file });
    const restore = (to: string) => kind.restore(job, newest.path, { to, signal, log, scratch: true });
    const checked = await kind.drill.run(job, { path: newest.path, file: newest.file, manifest: newest.manifest }, { stateDir: settings.stateDir, signal, log, restore });
    return done('success', `${verify.method}; ${checked}`, file);
  } catch (err) {
    if (timeout.aborted) return done('failure', `timed out after ${job.timeout / 1000} s (${describeError(err)})`, file);
    if (settings.signal.aborted) return done('failure', 'cancelled', file);
    return done('failure', err instanceof DrillFailure ? err.message : describeError(err), file);
  }
}
