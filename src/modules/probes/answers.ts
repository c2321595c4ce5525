import { z } from 'zod';
import { KINDS, REASONS } from './kinds/kind.js';

/** The bodies of the probes routes (routes.ts), which `caretaker probes` reads. */

export const lastCheck = z.object({
  ok: z.boolean(),
  reason: z.enum(REASONS),
  message: z.string(),
  latencyMs: z.number().meta({ description: 'wall time of the check, including any time the agent’s own event loop was late' }),
  loopLateMs: z.number().meta({ description: 'how much of latencyMs the event loop was busy elsewhere; not counted against the timeout' }),
  at: z.string(),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
});

export const probeView = z.object({
  name: z.string(),
  kind: z.enum(KINDS),
  target: z.string(),
  critical: z.boolean(),
  intervalMs: z.number(),
  timeoutMs: z.number(),
  status: z.enum(['pending', 'up', 'down']),
  up: z.boolean(),
  since: z.string().meta({ description: 'when the status last changed' }),
  consecutiveFailures: z.number(),
  consecutiveSuccesses: z.number(),
  last: lastCheck.nullable().meta({ description: 'the latest check, null before the first one' }),
  lastSuccessAt: z.string().nullable(),
  nextCheckAt: z.string().nullable(),
  recentLatencyMs: z
    .array(z.number().nullable())
    .meta({ description: 'latencies of the latest checks, oldest first, about the last hour (at most 720); null for a failed check' }),
});

export const probesAnswer = z.object({ probes: z.array(probeView) });
