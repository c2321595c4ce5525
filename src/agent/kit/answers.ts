import { z } from 'zod';

/**
 * Admin API answers are declared once, as zod schemas: the producers and the CLI use their `z.infer`
 * types, and the routes declare `responseSchema()` of them, which /openapi.json shows. Objects are closed
 * (additionalProperties: false), so a schema names every field: test/agent/openapi.test.ts fails otherwise.
 */

/** The path parameters of a route about one configured item (`/probes/:name`): its name, a string. */
export function itemParams<K extends string>(key: K, description: string) {
  return { type: 'object', required: [key], properties: { [key]: { type: 'string', description } } } as const;
}

/** One problem of a config file, as check-config, /reload and /status report it. */
export const configIssue = z.object({
  path: z.string().meta({ description: 'dotted path of the offending key, e.g. probes.2.interval; empty for the file itself' }),
  message: z.string(),
  location: z.string().optional().meta({ description: 'file:line:col of the key in the YAML document' }),
});

export const healthCheck = z.object({
  name: z.string(),
  ok: z.boolean(),
  critical: z.boolean().meta({ description: 'a critical item that is not ok makes /health/deep answer 503' }),
  message: z.string().optional(),
});

export const healthStatus = z.enum(['ok', 'degraded', 'failed']);

export const moduleHealth = z.object({
  status: healthStatus,
  message: z.string().optional(),
  checks: z.array(healthCheck).optional().meta({ description: 'one entry per configured item (a probe, a backup job…)' }),
});

/** What every failing route answers (kit/errors.ts, admin/error-handler.ts). */
export const errorAnswer = z.object({ error: z.string().meta({ description: 'a stable code, e.g. not_found' }), message: z.string() });

/** A route's answer as fastify's response schema (OpenAPI 3.0 flavour, which /openapi.json is). */
export function responseSchema(schema: z.ZodType, description?: string): Record<string, unknown> {
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'output',
    // `nullable` does not widen an `enum` (OpenAPI 3.0.3, ajv): a nullable enum lists null itself.
    override: ({ jsonSchema }) => {
      const node = jsonSchema as { nullable?: boolean; enum?: unknown[] };
      if (node.nullable && node.enum && !node.enum.includes(null)) node.enum.push(null);
    },
  }) as Record<string, unknown>;
  return description === undefined ? json : { ...json, description };
}

/** The `{error, message}` answers a route documents, by status code with what each means. */
export function errorResponses(described: Record<number, string>): Record<number, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(described).map(([code, description]) => [code, responseSchema(errorAnswer, description)]));
}
