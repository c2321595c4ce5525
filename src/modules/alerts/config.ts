import { z } from 'zod';
import { heartbeatUrl } from '../../agent/kit/heartbeat.js';
import { duration, itemName, namedList } from '../../agent/kit/schema.js';
import { channelSchema } from './channels/index.js';
import { hostConditionsSchema } from './host-conditions.js';

const SEVERITIES = ['warning', 'critical'] as const;

const routeSchema = z.strictObject({
  match: z
    .strictObject({
      severity: z.enum(SEVERITIES).optional().meta({ description: 'only conditions of this severity (warning or critical)' }),
      module: z.string().min(1).optional().meta({ description: 'only conditions reported by this module (certificates, backups, probes, logs, alerts for host conditions, agent)' }),
    })
    .optional()
    .meta({ description: 'which conditions the route takes; without it the route takes every condition' }),
  channels: z.array(itemName()).min(1, { error: 'name at least one channel' }).meta({ description: 'names of channels (from alerts.channels) that get what this route matches' }),
});

export type RouteConfig = z.output<typeof routeSchema>;

const rateLimitSchema = z.strictObject({
  messages: z.number().int().min(1).meta({ description: 'at most this many messages per channel within `per`; past it, new changes wait and go out together in the next message' }),
  per: duration({ min: '1s' }).meta({ description: 'the sliding window the message count is taken over (e.g. 1h)' }),
});

const retrySchema = z
  .strictObject({
    min: duration({ min: '100ms', max: '1h' }).default(5_000).meta({ description: 'wait after the first failed delivery; doubled after each further failure (default 5s)' }),
    max: duration({ min: '100ms', max: '1d' }).default(300_000).meta({ description: 'the longest wait between two delivery attempts; an undeliverable message is retried at this pace, never dropped (default 5m)' }),
    attempts: z.number().int().min(1).max(100).default(5).meta({ description: 'failed attempts after which the message is logged as undeliverable (it stays queued and is still retried) (default 5)' }),
  })
  .superRefine((retry, ctx) => {
    if (retry.min > retry.max) ctx.addIssue({ code: 'custom', path: ['min'], message: 'must not be longer than retry.max' });
  });

const heartbeatSchema = z.strictObject({
  url: heartbeatUrl().meta({ description: 'healthchecks.io-style URL the agent pings (the URL itself) every `every` while it runs, so an outside service notices a server that died entirely; shown as scheme://host only' }),
  every: duration({ min: '10s', max: '1d' }).default(300_000).meta({ description: 'how often the agent pings it (default 5m)' }),
});

/** The `alerts:` section: who is told (channels), about what (routes) and how often (group, repeat, rateLimit). */
export const configSchema = z
  .strictObject({
    channels: namedList(channelSchema)
      .min(1, { error: 'configure at least one channel' })
      .meta({ description: 'where notifications go: webhook, slack, telegram, ntfy or email, each with a unique name' }),
    routes: z
      .array(routeSchema)
      .optional()
      .meta({ description: 'which conditions go to which channels, all routes that match apply; without routes every condition goes to every channel' }),
    group: duration({ max: '1h' }).default(30_000).meta({ description: 'grouping window per channel: changes within it go out as one message, resolutions too; 0 sends at once (default 30s)' }),
    repeat: duration({ min: '1m' }).default(4 * 3_600_000).meta({ description: 'a warning still firing is sent again this often (default 4h)' }),
    repeatCritical: duration({ min: '1m' }).default(3_600_000).meta({ description: 'a critical condition still firing is sent again this often (default 1h)' }),
    rateLimit: rateLimitSchema.default({ messages: 30, per: 3_600_000 }).meta({ description: 'limit counted for each channel on its own (default 30 messages per 1h)' }),
    retry: retrySchema.default({ min: 5_000, max: 300_000, attempts: 5 }).meta({ description: 'delivery retries on network errors, 5xx and 429 (Retry-After is honoured)' }),
    heartbeat: heartbeatSchema.optional().meta({ description: "dead-man's switch for the agent itself" }),
    host: hostConditionsSchema
      .prefault({})
      .meta({ description: 'host conditions (filesystem free space, memory available), watched with the defaults when left out; 0 turns a threshold off' }),
  })
  .superRefine((section, ctx) => {
    const names = new Set(section.channels.map((channel) => channel.name));
    section.routes?.forEach((route, r) =>
      route.channels.forEach((name, c) => {
        if (!names.has(name)) {
          ctx.addIssue({ code: 'custom', path: ['routes', r, 'channels', c], message: `no channel named '${name}' (alerts.channels has: ${[...names.keys()].join(', ')})` });
        }
      }),
    );
  })
  .meta({ description: 'Tells a person when a condition fires and resolves (webhook, Slack, Telegram, ntfy, email), grouped, repeated and rate-limited, with retries.' });

export type AlertsConfig = z.output<typeof configSchema>;
