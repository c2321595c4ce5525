import { z } from 'zod';
import { parseRedisUrl } from './redis.js';
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
