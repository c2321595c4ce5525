import { z } from 'zod';
import { parseRedisUrl } from './redis.js';
import { parseListen } from './schema.js';
import { tlsClient } from './tls.js';

/**
 * The keys every Redis client in the config has (a probe, a backup job, the cluster's store): one url
 * syntax and one TLS block, so a setting learnt in one section means the same in the others.
 */

function parsesAsRedisUrl(text: string): boolean {
  try {
    parseRedisUrl(text);
    return true;
  } catch {
    return false;
  }
}

/** `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS. */
export function redisUrl(description: string) {
  return z
    .string()
    .refine((text) => /^rediss?:\/\//.test(text) && URL.canParse(text), { error: 'expected redis://[user:password@]host[:port][/db] or rediss://…', abort: true })
    .refine(parsesAsRedisUrl, { error: "the url's path is a database number, as in redis://host:6379/5" })
    .meta({ description });
}

export function redisTls() {
  return tlsClient().optional().meta({ description: 'TLS settings of a rediss:// url (custom CA, verification, server name)' });
}

/** The one cross-key rule: a `tls` block means nothing on a plain redis:// url. */
export function checkRedisTls(value: { url: string; tls?: unknown }, ctx: z.RefinementCtx): void {
  if (value.tls !== undefined && !value.url.startsWith('rediss://')) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls settings need a rediss:// url' });
}

const hostPort = z.string().refine((text) => parseListen(text)?.kind === 'tcp', { error: 'expected host:port' });

/** Sentinels that say where the master is (a probe's, the cluster's); the url then gives only scheme, user, password and db. */
export function redisSentinel() {
  return z.strictObject({
    master: z.string().min(1).meta({ description: 'the name the sentinels monitor the master under (sentinel monitor <name> ...)' }),
    addresses: z.array(hostPort).min(1).meta({ description: "sentinels to ask (host:port), all at once; the first to give the master's address wins" }),
    password: z.string().optional().meta({ description: "the sentinels' own requirepass; the master's password stays in the url" }),
  });
}

export type SentinelConfig = z.output<ReturnType<typeof redisSentinel>>;
