import { z } from 'zod';
import { configIssue, healthCheck, healthStatus, moduleHealth } from '../kit/answers.js';

/** The bodies of the agent's own routes (routes.ts); the agent builds them, the CLI reads them. */

export const healthAnswer = z.object({ status: z.literal('ok') });

export const lastReload = z
  .object({ ok: z.boolean(), at: z.string(), issues: z.array(configIssue).optional() })
  .meta({ description: 'the last attempt to load the config file; a refused one stays until a good one' });

const deepHealthFields = {
  ok: z.boolean(),
  lastReload,
  checks: z.array(healthCheck.extend({ module: z.string() })),
  modules: z.record(z.string(), z.object({ status: healthStatus, message: z.string().optional() })),
};

export const deepHealth = z.object(deepHealthFields);

export const deepHealthAnswer = z.object({ status: z.enum(['ok', 'failing']), ...deepHealthFields });

export const moduleStatus = z.object({
  name: z.string(),
  prefix: z.string(),
  state: z.enum(['absent', 'running', 'failed']),
  health: moduleHealth.optional(),
  error: z.string().optional(),
  nextRuns: z.array(z.object({ name: z.string(), next: z.string().nullable() })),
  status: z.unknown().optional().meta({ description: 'what the module’s own GET route answers' }),
});

export const statusAnswer = z.object({
  version: z.string(),
  node: z.string(),
  pid: z.number(),
  startedAt: z.string(),
  uptimeSeconds: z.number(),
  config: z.string(),
  lastReload,
  conflicts: z
    .array(z.object({ module: z.string(), kind: z.string(), item: z.string(), detail: z.string(), fix: z.string() }))
    .meta({ description: 'items another tool still handles too (logrotate, certbot), each with the command that resolves it' }),
  admin: z.string().optional(),
  metrics: z.string().optional(),
  modules: z.array(moduleStatus),
});

export const moduleChange = z.enum(['started', 'stopped', 'reloaded', 'unchanged', 'failed']);

export const reloadAnswer = z.object({
  ok: z.boolean(),
  modules: z.record(z.string(), z.object({ change: moduleChange, error: z.string().optional() })),
  restartRequired: z.array(z.string()).meta({ description: 'settings that changed but only take effect after a restart' }),
  metricsError: z.string().optional().meta({ description: 'why the /metrics listener kept its old address or web config' }),
});

/** A malformed request is a 400 too, without issues: the schema must not refuse to serialize it. */
export const reloadRefusedAnswer = z.object({ error: z.string(), message: z.string(), issues: z.array(configIssue).optional() });

export type LastReload = z.infer<typeof lastReload>;
export type DeepHealth = z.infer<typeof deepHealth>;
export type ModuleStatus = z.infer<typeof moduleStatus>;
export type StatusAnswer = z.infer<typeof statusAnswer>;
export type ModuleChange = z.infer<typeof moduleChange>;
export type ReloadAnswer = z.infer<typeof reloadAnswer>;
