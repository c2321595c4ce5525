import { resolve } from 'node:path';
import { z } from 'zod';
import type { ConfigIssue } from '../kit/errors.js';
import type { AnyModuleSpec } from '../kit/module.js';
import { duration, isLoopback, listenAddress } from '../kit/schema.js';
import { readWebConfig } from '../../metrics/web-config.js';

export const agentSchema = z
  .strictObject({
    stateDir: z
      .string()
      .min(1, { error: 'must not be empty' })
      .transform((path) => resolve(path))
      .prefault('/var/lib/caretaker')
      .meta({ description: 'state directory; a relative path is taken from the working directory' }),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info').meta({ description: 'least severe log level written to stdout (the journal)' }),
    stopTimeout: duration({ min: '1s', max: '5m' })
      .prefault('20s')
      .meta({ description: "on stop every module's work is aborted at once and waited for this long, all modules together; systemd's TimeoutStopSec= must exceed it" }),
  })
  .meta({ description: 'The agent process itself.' });

export const adminSchema = z
  .strictObject({
    listen: listenAddress().prefault('127.0.0.1:9470').meta({ description: 'host:port or unix:/path; loopback only unless allowRemote' }),
    token: z.string().min(16, { error: 'must be at least 16 characters' }).optional().meta({ description: 'bearer token required by mutating routes' }),
    allowRemote: z.boolean().default(false).meta({ description: 'accept a non-loopback listen address; then admin.token is required and every route needs it' }),
  })
  .superRefine((admin, ctx) => {
    if (isLoopback(admin.listen)) return;
    if (!admin.allowRemote) {
      ctx.addIssue({ code: 'custom', path: ['listen'], message: 'is not a loopback address; set admin.allowRemote: true and admin.token to expose the admin API' });
    } else if (!admin.token) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: 'is required when admin.allowRemote is true' });
    }
  })
  .meta({ description: 'The local admin API used by curl and the caretaker CLI.' });

export const metricsSchema = z
  .strictObject({
    listen: listenAddress().prefault('127.0.0.1:9471').meta({ description: 'host:port or unix:/path that serves /metrics' }),
    host: z.boolean().default(true).meta({ description: 'export host metrics under node_exporter names; false where node_exporter runs' }),
    hostInterval: duration({ min: '1s', max: '5m' }).prefault('15s').meta({ description: 'how often host metrics are read from /proc in the background; a scrape serves the last reading' }),
    // Read here, synchronously, rather than when the listener starts: a bad file is then a config error
    // naming metrics.webConfig from `caretaker check-config` and on reload (where the running listener
    // stays as it was), instead of a boot failure found only when the service restarts.
    webConfig: z
      .string()
      .min(1, { error: 'must not be empty' })
      .transform((path, ctx) => {
        try {
          return readWebConfig(path);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      })
      .optional()
      .meta({ description: "node_exporter web-config file (tls_server_config, bcrypt basic_auth_users, http_server_config.headers) protecting /metrics" }),
  })
  .meta({ description: 'The Prometheus /metrics listener.' });

export type AgentSettings = z.output<typeof agentSchema>;
export type AdminSettings = z.output<typeof adminSchema>;
export type MetricsSettings = z.output<typeof metricsSchema>;

/** The whole file: agent sections plus one optional section per module, named after the module. */
export function buildConfigSchema(modules: readonly AnyModuleSpec[]) {
  const sections: Record<string, z.ZodType> = {};
  for (const module of modules) sections[module.name] = module.config.optional();
  return z.strictObject({
    agent: agentSchema.prefault({}),
    admin: adminSchema.prefault({}),
    metrics: metricsSchema.prefault({}),
    ...sections,
  });
}

export interface Config {
  agent: AgentSettings;
  admin: AdminSettings;
  metrics: MetricsSettings;
  /** Validated section per configured module; absent modules are not in the map. */
  sections: Map<string, unknown>;
  /** Values that came from `${…}` references, for log redaction. */
  secrets: string[];
  /** Deprecated keys the file sets: still read, logged once per load, shown by check-config. */
  warnings: ConfigIssue[];
  /** The file this came from. */
  path: string;
}
