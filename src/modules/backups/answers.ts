import { z } from 'zod';

/** The bodies of the backups routes (routes.ts), which `caretaker backups` reads. */

export const trigger = z.enum(['schedule', 'manual', 'catch-up']);

export const jobState = z
  .enum(['never_run', 'running', 'ok', 'failed', 'unsupported', 'low_disk', 'remote_failed'])
  .meta({ description: 'remote_failed: the local backup succeeded and is kept, its off-site copy failed' });

export const backupFileInfo = z.object({
  file: z.string(),
  time: z.string(),
  sizeBytes: z.number(),
  sha256: z.string().nullable().meta({ description: 'null when the file has no manifest' }),
  verified: z.boolean(),
  remoteSnapshot: z.string().nullable().meta({ description: 'the restic snapshot this backup was sent off-site as; null when it was not' }),
});

export const remoteRun = z.object({
  result: z.enum(['success', 'failure']),
  message: z.string().optional().meta({ description: 'why the off-site copy failed' }),
  snapshot: z.string().optional(),
  addedBytes: z.number().optional(),
  durationSeconds: z.number(),
  finishedAt: z.string(),
});

export const drillAnswer = z.object({
  schedule: z.string(),
  nextRun: z.string().nullable(),
  running: z.object({ startedAt: z.string() }).nullable(),
  last: z
    .object({
      result: z.enum(['success', 'failure', 'skipped']),
      message: z.string().meta({ description: 'what was checked, or why the drill failed or was skipped' }),
      file: z.string().optional().meta({ description: 'the backup that was drilled' }),
      startedAt: z.string(),
      finishedAt: z.string(),
      durationSeconds: z.number(),
    })
    .nullable(),
  lastSuccessAt: z.string().nullable(),
});

export const jobSummary = z.object({
  name: z.string(),
  type: z.enum(['postgres', 'redis', 'files']),
  schedule: z.string(),
  timezone: z.string(),
  state: jobState,
  running: z
    .object({
      trigger,
      startedAt: z.string(),
      elapsedSeconds: z.number(),
      step: z
        .enum(['waiting', 'dump', 'verify', 'offsite'])
        .meta({ description: "waiting: a cluster singleton job whose run of this tick another node holds (see cluster); dump: writing the backup; verify: re-reading and checking it; offsite: sending it to the restic repository" }),
      bytes: z.number().nullable().meta({ description: 'bytes the dump has written so far (final from the verify step on); null while pg_dump fills a directory backup' }),
    })
    .nullable()
    .meta({ description: 'the run in progress, null when none is' }),
  nextRun: z.string().nullable(),
  lastRun: z
    .object({
      trigger,
      result: z.enum(['success', 'failure']),
      reason: z.string().optional(),
      message: z.string().optional(),
      startedAt: z.string(),
      finishedAt: z.string(),
      durationSeconds: z.number(),
      file: z.string().optional(),
      sizeBytes: z.number().optional(),
      remote: remoteRun.optional().meta({ description: "the off-site copy of this run's backup, for a job with a remote" }),
    })
    .nullable(),
  lastSuccessAt: z.string().nullable(),
  skippedRuns: z.number(),
  files: z.number(),
  totalBytes: z.number(),
  latest: z.string().nullable(),
  drill: drillAnswer.nullable().meta({ description: 'the restore drill, for a job with one' }),
  cluster: z
    .object({
      mode: z.literal('singleton'),
      waitingOn: z.string().nullable().meta({ description: 'the node running this tick while this one waits to take over if it dies' }),
      lastElsewhere: z
        .object({ tick: z.string(), node: z.string(), file: z.string(), finishedAt: z.string() })
        .nullable()
        .meta({ description: 'the latest tick another node ran ("ran on node X"), its backup being in that node\'s directory' }),
    })
    .nullable()
    .meta({ description: 'for a cluster: singleton job with a cluster configured' }),
});

export const jobDetail = jobSummary.extend({ backups: z.array(backupFileInfo) });

export const backupsAnswer = z.object({ dir: z.string(), jobs: z.array(jobSummary) });

export const runStartedAnswer = z.object({ started: z.literal(true), job: jobSummary });
