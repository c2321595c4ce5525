import { setTimeout as sleep } from 'node:timers/promises';
import { httpUrl } from './schema.js';

/**
 * Dead-man's-switch pings, healthchecks.io style: `<url>/start` when a job begins, `<url>` when it
 * succeeded (and for a periodic beat), `<url>/fail` or `<url>/<exit status>` when it failed. The
 * outside service raises the alarm when the success ping stops coming, which is the one failure the
 * agent cannot report itself: the whole server being gone.
 */
export type HeartbeatEvent = 'start' | 'success' | 'fail' | 'beat';

export interface HeartbeatResult {
  ok: boolean;
  /** Why the ping did not arrive; names the URL by scheme and host only, as the path holds the check's token. */
  error?: string;
}

export interface HeartbeatOptions {
  /** Bound on one attempt, connect to answer. */
  timeoutMs?: number;
  /** Pause before the one retry. */
  retryDelayMs?: number;
}

/** healthchecks.io stores the first 100 kB of a body; a log excerpt needs far less, and the end is what explains a failure. */
export const HEARTBEAT_BODY_MAX_BYTES = 10 * 1024;

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY_DELAY_MS = 1_000;

/** A heartbeat URL key: an http(s) URL; it is a secret even when written literally (its path is the check's token). */
export function heartbeatUrl() {
  return httpUrl('expected an http:// or https:// URL (e.g. https://hc-ping.com/<uuid>)').meta({
    description: 'healthchecks.io-style ping URL: /start, success (the URL itself) and /fail are appended; shown as scheme://host only',
  });
}

/** What logs and answers may show of a URL whose path or query holds a token (pings, webhooks): `https://hc-ping.com`. */
export function urlOrigin(text: string): string {
  try {
    const url = new URL(text);
    return `${url.protocol}//${url.host}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** The URL pinged for `event`; a number is an exit status (`<url>/<code>`, 0 meaning success). */
export function heartbeatTarget(url: string, event: HeartbeatEvent | number): URL {
  const target = new URL(url);
  const suffix = typeof event === 'number' ? String(event) : event === 'start' || event === 'fail' ? event : '';
  if (suffix !== '') target.pathname = `${target.pathname.replace(/\/+$/, '')}/${suffix}`;
  return target;
}

/** The last `HEARTBEAT_BODY_MAX_BYTES` of `text`, cut at a character boundary. */
export function boundBody(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= HEARTBEAT_BODY_MAX_BYTES) return text;
  const marker = '[…]\n';
  let start = bytes.length - (HEARTBEAT_BODY_MAX_BYTES - Buffer.byteLength(marker));
  // Skip UTF-8 continuation bytes so the excerpt does not begin inside a character.
  while (start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
  return marker + bytes.subarray(start).toString('utf8');
}

/**
 * One ping, retried once on a network error, a timeout, 5xx or 429. Never throws: a heartbeat that
 * cannot be delivered must not fail the backup it reports on; the caller logs `error`.
 */
export async function pingHeartbeat(
  url: string,
  event: HeartbeatEvent | number,
  body?: string,
  signal?: AbortSignal,
  options: HeartbeatOptions = {},
): Promise<HeartbeatResult> {
  let target: URL;
  try {
    target = heartbeatTarget(url, event);
  } catch {
    return { ok: false, error: 'heartbeat URL is not a valid URL' };
  }
  const origin = urlOrigin(url);
  const payload = body === undefined || body === '' ? undefined : boundBody(body);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let error = '';
  for (let attempt = 1; attempt <= 2; attempt++) {
    if (signal?.aborted) return { ok: false, error: `heartbeat ping to ${origin} aborted` };
    const outcome = await attemptPing(target, payload, timeoutMs, signal);
    if (outcome.ok) return { ok: true };
    error = `heartbeat ping to ${origin} failed: ${outcome.reason}`;
    if (!outcome.retryable || attempt === 2) break;
    try {
      await sleep(options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS, undefined, signal ? { signal } : {});
    } catch {
      return { ok: false, error: `heartbeat ping to ${origin} aborted` };
    }
  }
  return { ok: false, error };
}

async function attemptPing(
  target: URL,
  body: string | undefined,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ ok: true } | { ok: false; reason: string; retryable: boolean }> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(target, {
      method: 'POST',
      body: body ?? '',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      redirect: 'error',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    // The answer is a short "OK"; it is read only to free the connection.
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return { ok: true };
    return { ok: false, reason: `HTTP ${response.status}`, retryable: response.status >= 500 || response.status === 429 };
  } catch (err) {
    if (timeout.aborted) return { ok: false, reason: `no answer within ${timeoutMs} ms`, retryable: true };
    if (signal?.aborted) return { ok: false, reason: 'aborted', retryable: false };
    return { ok: false, reason: networkReason(err), retryable: true };
  }
}

/** fetch's "fetch failed" hides the cause; its code (ECONNREFUSED, ENOTFOUND) says it without repeating the URL. */
export function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  return err instanceof Error && err.name !== 'TypeError' ? err.name : 'network error';
}
