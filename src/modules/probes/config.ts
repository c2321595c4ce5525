import { z } from 'zod';
import { namedList } from '../../agent/kit/schema.js';
import { DEFAULT_TIMEOUT_MS } from './kinds/kind.js';
import { httpProbeConfig } from './kinds/http.js';
import { postgresProbeConfig } from './kinds/postgres.js';
import { redisProbeConfig } from './kinds/redis.js';
import { tcpProbeConfig } from './kinds/tcp.js';

/** One probe: the kind is chosen by `type`; the fields common to all kinds are in kind.ts. */
export const probeSchema = z
  .discriminatedUnion('type', [redisProbeConfig, postgresProbeConfig, httpProbeConfig, tcpProbeConfig], {
    error: (issue) => (issue.code === 'invalid_union' ? 'type must be one of redis, postgres, http, tcp' : undefined),
  })
  .superRefine((probe, ctx) => {
    if (probe.timeout !== undefined && probe.timeout > probe.interval) {
      ctx.addIssue({ code: 'custom', path: ['timeout'], message: 'must not be longer than the interval' });
    }
  })
  .transform((probe) => ({ ...probe, timeout: probe.timeout ?? Math.min(DEFAULT_TIMEOUT_MS, probe.interval) }));

export type ProbeConfig = z.output<typeof probeSchema>;

/** The `probes:` section: a list of probes with unique names. */
export const configSchema = namedList(probeSchema).meta({ description: 'Health checks of Redis, PostgreSQL, HTTP and TCP services, exported as metrics and /health/deep.' });

export type ProbesConfig = z.output<typeof configSchema>;
