import { mkdir, rename, rm, statfs, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import { fsyncDir } from '../../agent/kit/atomic-file.js';
import { describeError } from '../../agent/kit/errors.js';
import { PARTIAL_SUFFIX, backupFileName, jobDir } from './backup-files.js';
import type { BackupJob } from './config.js';
import { kindOf } from './kinds/table.js';
import { sha256FileInWorker, sizeOf } from './digest.js';
import { UnsupportedError, type ByteSinkProducer, type DumpSummary, type ToolVersions } from './kinds/kind.js';
import { writeManifest, type CompanionRecord, type Manifest } from './manifest.js';
import type { BackupContents } from './drill/contents.js';
import { FileSink } from './sink.js';
import { checkBackupFile, verifyBackupFile } from './verify.js';

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

export type RunStep = 'waiting' | 'dump' | 'verify' | 'offsite';

/** How far a run in progress is, for `running` in GET /backups/:job: its step and the bytes its dump wrote so far. */
export class RunProgress {
  step: RunStep = 'dump';
  /** Bytes of the files this run finished writing (companions, then the backup). */
  private finished = 0;
  private sink: FileSink | undefined;
  private directory = false;

  /** Bytes written so far; null while a tool fills a directory backup (counted once it is done). */
  bytes(): number | null {
    if (this.directory) return null;
    return this.finished + (this.sink?.bytesSoFar ?? 0);
  }

  writing(sink: FileSink): void {
    this.sink = sink;
  }

  written(bytes: number): void {
    this.sink = undefined;
    this.directory = false;
    this.finished += bytes;
  }

  fillingDirectory(): void {
    this.directory = true;
  }
}

export interface RunSettings {
  dir: string;
  minFreeSpace?: number;
  /** Aborted when the module stops or the job is removed. */
  signal: AbortSignal;
  log: Logger;
  now: () => Date;
  progress?: RunProgress;
  /**
   * Called once the backup is verified, right before anything gets its final name; a throw leaves nothing
   * behind (a cluster lease found lost: a node paused past its TTL must not publish what it made).
   */
  beforeCommit?: () => void;
}

function failure(reason: FailureReason, message: string, startedAt: Date, now: () => Date): RunOutcome {
  const finishedAt = now();
  return { result: 'failure', reason, message, startedAt, finishedAt, durationMs: finishedAt.getTime() - startedAt.getTime() };
}

async function freeBytes(dir: string): Promise<number> {
  const info = await statfs(dir);
  return info.bavail * info.bsize;
}

/** A companion's own check rejected it: the run fails as `verify_failed`. */
class CompanionCheckError extends Error {}

/**
 * One dump into a new `.partial` file: counted, fsynced, and hashed as written, or, when a child wrote it
 * directly, read back by a hash worker while the fsync runs. `readBack` says which.
 */
async function streamToFile(
  path: string,
  produce: ByteSinkProducer,
  signal: AbortSignal,
  progress: RunProgress | undefined,
): Promise<{ tools: ToolVersions; sizeBytes: number; sha256: string; readBack: boolean }> {
  const sink = await FileSink.create(path);
  progress?.writing(sink);
  try {
    const tools = await produce(sink);
    const sha256 = await sink.finish(() => sha256FileInWorker(path, signal));
    progress?.written(sink.bytes);
    if (sink.bytes === 0) throw new Error('the dump produced no data');
    return { tools, sizeBytes: sink.bytes, sha256, readBack: sink.handedToChild };
  } catch (err) {
    await sink.abandon();
    throw err;
  }
}

function classify(err: unknown, timedOut: boolean, cancelled: boolean): FailureReason {
  if (timedOut) return 'timeout';
  if (cancelled) return 'cancelled';
  if (err instanceof UnsupportedError) return 'unsupported';
  if ((err as NodeJS.ErrnoException).code === 'ENOSPC' || /No space left on device/i.test(describeError(err))) return 'disk_full';
  if (err instanceof CompanionCheckError) return 'verify_failed';
  return 'error';
}

/**
 * One backup of one job: companions first (`<backup>.<suffix>.partial`), then the dump into `<backup>.partial`
 * (a file hashed as written, or a directory the tool fills), fsync, verify, write the manifest, then rename
 * the companions and, last, the backup into place. Whatever fails, nothing with a final name is left behind
 * except what a previous run finished; the outcome says why.
 */
export async function runBackup(job: BackupJob, settings: RunSettings): Promise<RunOutcome> {
  const { log, now, progress } = settings;
  const kind = kindOf(job);
  const format = await kind.formatFor(job);
  const companions = kind.companionsFor?.(job) ?? [];
  const startedAt = now();
  const folder = jobDir(settings.dir, job.name);
  const finalPath = join(folder, backupFileName(job.name, startedAt, format.extension));
  const partialPath = finalPath + PARTIAL_SUFFIX;
  const companionPath = (suffix: string) => `${finalPath}.${suffix}`;
  const partials = [...companions.map((c) => companionPath(c.suffix) + PARTIAL_SUFFIX), partialPath];
  const removePartials = async () => {
    for (const path of partials) await rm(path, { recursive: true, force: true }).catch(() => undefined);
  };

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
  /** Taken as the bytes were written: verify reads the file again and compares. */
  let sha256: string | undefined;
  /** Read back from a file a child wrote: nothing left to compare it with. */
  let readBackSha256: string | undefined;
  let sizeBytes: number;
  const tools: ToolVersions = {};
  const records: CompanionRecord[] = [];
  let contents: BackupContents | undefined;
  const recordContents = (recorded: BackupContents) => (contents = recorded);
  const summary: DumpSummary = {};
  const recordSummary = (recorded: DumpSummary) => Object.assign(summary, recorded);
  try {
    for (const companion of companions) {
      const path = companionPath(companion.suffix) + PARTIAL_SUFFIX;
      let details: CompanionRecord['details'];
      const recordDetails = (recorded: CompanionRecord['details']) => (details = recorded);
      const written = await streamToFile(path, (sink) => companion.dump(job, { sink, signal, log, recordDetails }), signal, progress);
      Object.assign(tools, written.tools);
      const method = await companion.check(job, path, signal).catch((err: unknown) => {
        throw new CompanionCheckError(`${companion.suffix}: ${describeError(err)}`);
      });
      records.push({ suffix: companion.suffix, file: basename(companionPath(companion.suffix)), sizeBytes: written.sizeBytes, sha256: written.sha256, method, ...(details ? { details } : {}) });
    }
    log.debug({ file: partialPath, layout: format.layout }, 'dump started');
    if (format.layout === 'directory') {
      if (!kind.dumpToDirectory) throw new Error(`${job.type} jobs cannot write a directory`);
      progress?.fillingDirectory();
      Object.assign(tools, await kind.dumpToDirectory(job, { path: partialPath, signal, log, recordContents }));
      // The tool fsyncs its files; the directory's own entries are ours to make durable.
      await fsyncDir(partialPath);
      sizeBytes = await sizeOf(partialPath);
      progress?.written(sizeBytes);
      if (sizeBytes === 0) throw new Error('the dump produced no data');
    } else {
      const written = await streamToFile(partialPath, (sink) => kind.dump(job, { sink, signal, log, recordContents, recordSummary }), signal, progress);
      Object.assign(tools, written.tools);
      sizeBytes = written.sizeBytes;
      if (written.readBack) readBackSha256 = written.sha256;
      else sha256 = written.sha256;
    }
  } catch (err) {
    await removePartials();
    const reason = classify(err, timeout.aborted, settings.signal.aborted);
    const message = reason === 'timeout' ? `timed out after ${job.timeout / 1000} s (${describeError(err)})` : describeError(err);
    return failure(reason, message, startedAt, now);
  }

  if (progress) progress.step = 'verify';
  try {
    // A streamed file's sha256 was taken as it was written and is compared here with a second read; a file a
    // child wrote was just read back (reading it again would compare the page cache with itself), so only the
    // kind's check is left; a directory's sha256 is taken here, once.
    const verify =
      readBackSha256 !== undefined ? await checkBackupFile(job, partialPath, readBackSha256, signal) : await verifyBackupFile(job, partialPath, sha256, signal);
    if (!verify.ok) {
      await removePartials();
      return { ...failure('verify_failed', verify.message ?? 'verification failed', startedAt, now), verifyOk: false };
    }
    const finishedAt = now();
    const manifest: Manifest = {
      version: 1,
      job: job.name,
      type: job.type,
      file: basename(finalPath),
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      sizeBytes,
      sha256: verify.sha256,
      tools,
      verify: { ok: true, checkedAt: finishedAt.toISOString(), method: verify.method },
      layout: format.layout,
      companions: records,
      ...summary,
      ...(contents ? { contents } : {}),
    };
    settings.beforeCommit?.();
    // Companions first: until the backup itself is renamed, a crash leaves only orphans that start-up removes.
    for (const record of records) await rename(join(folder, record.file) + PARTIAL_SUFFIX, join(folder, record.file));
    await writeManifest(finalPath, manifest);
    await rename(partialPath, finalPath);
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
    await removePartials();
    for (const record of records) await unlink(join(folder, record.file)).catch(() => undefined);
    await unlink(finalPath + '.json').catch(() => undefined);
    return failure(classify(err, timeout.aborted, settings.signal.aborted), describeError(err), startedAt, now);
  }
}
