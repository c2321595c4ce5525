import { z } from 'zod';

/** The body of GET /alerts (routes.ts), which `caretaker alerts` reads. */

const severity = z.enum(['warning', 'critical']);

export const firingAlert = z.object({
  key: z.string().meta({ description: 'stable key <area>:<item>:<what>, e.g. probe:redis:down' }),
  module: z.string(),
  item: z.string().nullable().meta({ description: 'the configured item it is about, null for host and agent conditions' }),
  severity,
  summary: z.string(),
  detail: z.string(),
  startsAt: z.string(),
});

export const lastDelivery = z.object({
  at: z.string(),
  result: z.enum(['delivered', 'failed', 'rejected']),
  attempts: z.number().meta({ description: 'attempts of that message so far' }),
  error: z.string().nullable().meta({ description: "the channel's error, naming its target by scheme://host only" }),
});

export const channelView = z.object({
  name: z.string(),
  type: z.string(),
  target: z.string().meta({ description: 'scheme://host only: the rest of a channel URL may hold its token' }),
  queued: z.number().meta({ description: 'messages built and not delivered yet' }),
  pending: z.number().meta({ description: 'changes waiting for the grouping window or the rate limit' }),
  lastDelivery: lastDelivery.nullable(),
  lastSuccessAt: z.string().nullable(),
});

export const heartbeatView = z.object({
  target: z.string().meta({ description: 'scheme://host only' }),
  everyMs: z.number(),
  lastPing: z.object({ at: z.string(), ok: z.boolean(), error: z.string().nullable() }).nullable(),
});

export const alertsAnswer = z.object({
  firing: z.array(firingAlert),
  channels: z.array(channelView),
  heartbeat: heartbeatView.nullable(),
});

export type AlertsAnswer = z.infer<typeof alertsAnswer>;
