import { z } from 'zod';

/** The bodies of the backups routes (routes.ts), which `caretaker backups` reads. */

export const trigger = z.enum(['schedule', 'manual', 'catch-up']);

export const jobState = z.enum(['never_run', 'running', 'ok', 'failed', 'unsupported', 'low_disk']);

export const backupFileInfo = z.object({
  file: z.string(),
  time: z.string(),
  sizeBytes: z.number(),
  sha256: z.string().nullable().meta({ description: 'null when the file has no manifest' }),
  verified: z.boolean(),
});

export const jobSummary = z.object({
  name: z.string(),
  type: z.enum(['postgres', 'redis', 'files']),
  schedule: z.string(),
  timezone: z.string(),
  state: jobState,
  running: z.object({ trigger, startedAt: z.string() }).nullable(),
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
    })
    .nullable(),
  lastSuccessAt: z.string().nullable(),
  skippedRuns: z.number(),
  files: z.number(),
  totalBytes: z.number(),
  latest: z.string().nullable(),
});

export const jobDetail = jobSummary.extend({ backups: z.array(backupFileInfo) });

export const backupsAnswer = z.object({ dir: z.string(), jobs: z.array(jobSummary) });

export const runStartedAnswer = z.object({ started: z.literal(true), job: jobSummary });
