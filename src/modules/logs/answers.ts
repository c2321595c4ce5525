import { z } from 'zod';

/** The bodies of the logs routes (routes.ts), which `caretaker logs` reads. */

export const rotationOutcome = z.object({
  log: z.string(),
  result: z.enum(['success', 'failure', 'nothing']),
  rotated: z.array(z.object({ path: z.string().meta({ description: 'the live file' }), to: z.string().meta({ description: 'the rotated file' }), bytes: z.number() })),
  errors: z.array(z.string()),
});

const fileStatus = z.object({
  path: z.string(),
  size: z.number(),
  lastRotation: z.string().nullable(),
  rotatedFiles: z.number(),
  pendingCompression: z.number(),
});

export const setStatus = z.object({
  name: z.string(),
  busy: z.boolean(),
  mode: z.enum(['reopen', 'copyTruncate', 'create']),
  lastCheck: z.string().nullable(),
  lastRotation: z.string().nullable(),
  lastResult: rotationOutcome.shape.result.nullable(),
  problems: z.array(z.string()).meta({ description: 'problems of the last check and rotation: refused paths, missing files, failures; empty when healthy' }),
  files: z.array(fileStatus),
});

export const logsStatus = z.object({
  stateRebuilt: z.string().nullable().meta({ description: 'set when the state file was unreadable and rebuilt from the files on disk' }),
  nextCheck: z.string().nullable(),
  logs: z.array(setStatus),
});
