import { mkdir, rename, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { fsyncDir } from '../../agent/kit/atomic-file.js';
import { describeError } from '../../agent/kit/errors.js';
import { PARTIAL_SUFFIX, backupFileName, jobDir } from './backup-files.js';
import type { BackupJob } from './config.js';
import { kindOf } from './kinds/all.js';
import { UnsupportedError } from './kinds/kind.js';
import { writeManifest, type Manifest } from './manifest.js';
import { FileSink } from './sink.js';
import { verifyBackupFile } from './verify.js';

export type FailureReason = 'unsupported' | 'low_disk' | 'disk_full' | 'timeout' | 'cancelled' | 'verify_failed' | 'error';

export interface RunOutcome {
  result: 'success' | 'failure';
  reason?: FailureReason;
  message?: string;
  startedAt: Date;
  finishedAt: Date;
  durationMs: number;
  /** Set on success. */
  file?: string;
  sizeBytes?: number;
  verifyOk?: boolean;
}

export interface RunSettings {
  dir: string;
  minFreeSpace?: number;
  /** Aborted when the module stops or the job is removed. */
  signal: AbortSignal;
  log: Logger;
  now: () => Date;
  /** Called with the partial path as soon as it exists, so stop() can remove it if the run outlives its deadline. */
  onPartial?: (path: string | undefined) => void;
}

function failure(reason: FailureReason, message: string, startedAt: Date, now: () => Date): RunOutcome {
  const finishedAt = now();
  return { result: 'failure', reason, message, startedAt, finishedAt, durationMs: finishedAt.getTime() - startedAt.getTime() };
}

async function freeBytes(dir: string): Promise<number> {
  const info = await statfs(dir);
  return info.bavail * info.bsize;
}

function classify(err: unknown, timedOut: boolean, cancelled: boolean): FailureReason {
  if (timedOut) return 'timeout';
  if (cancelled) return 'cancelled';
  if (err instanceof UnsupportedError) return 'unsupported';
  if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return 'disk_full';
  return 'error';
}

/**
 * One backup of one job: dump into `<name>.partial` (hashed as written), fsync, verify, write the manifest,
 * then rename into place. Whatever fails, no file with a final name is left behind; the outcome says why.
 */
export async function runBackup(job: BackupJob, settings: RunSettings): Promise<RunOutcome> {
  const { log, now } = settings;
  const kind = kindOf(job);
  const startedAt = now();
  const folder = jobDir(settings.dir, job.name);
  const finalPath = join(folder, backupFileName(job.name, startedAt, kind.extension));
  const partialPath = finalPath + PARTIAL_SUFFIX;

  try {
    await mkdir(folder, { recursive: true, mode: 0o700 });
    if (settings.minFreeSpace !== undefined) {
      const free = await freeBytes(folder);
      if (free < settings.minFreeSpace) {
        return failure('low_disk', `only ${free} bytes free on the backup filesystem, below minFreeSpace (${settings.minFreeSpace})`, startedAt, now);
      }
    }
  } catch (err) {
    return failure('error', `preparing ${folder}: ${describeError(err)}`, startedAt, now);
  }

  // An unref'd timer owned by the signal: it cannot keep the process alive or outlive the run.
  const timeout = AbortSignal.timeout(job.timeout);
  const signal = AbortSignal.any([settings.signal, timeout]);
  let sink: FileSink | undefined;
  let sha256: string;
  let sizeBytes: number;
  let tools: Record<string, string>;
  try {
    sink = await FileSink.create(partialPath);
    settings.onPartial?.(partialPath);
    log.debug({ file: partialPath }, 'dump started');
    tools = await kind.dump(job, { sink, signal, log });
    if (sink.bytes === 0) throw new Error('the dump produced no data');
    sizeBytes = sink.bytes;
    sha256 = await sink.finish();
    sink = undefined;
  } catch (err) {
    await sink?.abandon();
    await unlink(partialPath).catch(() => undefined);
    settings.onPartial?.(undefined);
    const reason = classify(err, timeout.aborted, settings.signal.aborted);
    const message = reason === 'timeout' ? `timed out after ${job.timeout / 1000} s (${describeError(err)})` : describeError(err);
    return failure(reason, message, startedAt, now);
  }

  try {
    const verify = await verifyBackupFile(job, partialPath, sha256, signal);
    if (!verify.ok) {
      await unlink(partialPath).catch(() => undefined);
      settings.onPartial?.(undefined);
      return { ...failure('verify_failed', verify.message ?? 'verification failed', startedAt, now), verifyOk: false };
    }
    const finishedAt = now();
    const manifest: Manifest = {
      version: 1,
      job: job.name,
      type: job.type,
      file: finalPath.slice(folder.length + 1),
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      sizeBytes,
      sha256,
      tools,
      verify: { ok: true, checkedAt: finishedAt.toISOString(), method: verify.method },
    };
    await writeManifest(finalPath, manifest);
    await rename(partialPath, finalPath);
    settings.onPartial?.(undefined);
    await fsyncDir(folder);
    return {
      result: 'success',
      startedAt,
      finishedAt,
      durationMs: manifest.durationMs,
      file: manifest.file,
      sizeBytes: manifest.sizeBytes,
      verifyOk: true,
    };
  } catch (err) {
    await unlink(partialPath).catch(() => undefined);
    await unlink(finalPath + '.json').catch(() => undefined);
    settings.onPartial?.(undefined);
    return failure(classify(err, timeout.aborted, settings.signal.aborted), describeError(err), startedAt, now);
  }
}
