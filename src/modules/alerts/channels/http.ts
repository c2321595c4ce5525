import { networkReason, urlOrigin } from '../../../agent/kit/heartbeat.js';
import { DeliveryError, type Channel, type Notification } from './channel.js';

/** Of a refusal's body, what an error message quotes: the receiver's reason, not a page of HTML. */
const ANSWER_EXCERPT_CHARS = 200;
/** What is read of an answer: enough for any API's JSON error; a receiver streaming more is cut off. */
const ANSWER_READ_BYTES = 16 * 1024;

export interface HttpAttempt {
  /** scheme://host, the only part of the URL an error names. */
  target: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** Strings that must never appear in an error (token, URL path): removed from a quoted answer. */
  secrets: string[];
  /** The receiver's own reason for a refusal and its wait hint, read from its JSON answer (Telegram). */
  explain?: (answer: string) => { reason?: string; retryAfterMs?: number };
}

export interface HttpChannelSpec {
  name: string;
  type: string;
  /** The URL whose scheme://host is the channel's target (the API server, not the path with its token). */
  server: string;
  url: string;
  timeoutMs: number;
  secrets: string[];
  explain?: HttpAttempt['explain'];
  /** The request for a notification; `content-type` defaults to JSON. */
  request(notification: Notification): { body: string; headers?: Record<string, string> };
}

/** A channel that delivers with one POST per notification (webhook, Slack, Telegram, ntfy). */
export function httpChannel(spec: HttpChannelSpec): Channel {
  const target = urlOrigin(spec.server);
  return {
    name: spec.name,
    type: spec.type,
    target,
    send(notification, signal) {
      const { body, headers } = spec.request(notification);
      return postOnce({
        target,
        url: spec.url,
        headers: { 'content-type': 'application/json', 'user-agent': 'caretaker', ...headers },
        body,
        timeoutMs: spec.timeoutMs,
        signal,
        secrets: spec.secrets,
        ...(spec.explain ? { explain: spec.explain } : {}),
      });
    },
  };
}

/** One POST. 2xx is delivered; 5xx, 429, network errors and timeouts are retryable; any other answer is final. */
export async function postOnce(attempt: HttpAttempt): Promise<void> {
  const timeout = AbortSignal.timeout(attempt.timeoutMs);
  let response: Response;
  let answer: string;
  try {
    response = await fetch(attempt.url, {
      method: 'POST',
      headers: attempt.headers,
      body: attempt.body,
      // A redirect would resend the message, maybe to a host the user never named.
      redirect: 'manual',
      signal: AbortSignal.any([attempt.signal, timeout]),
    });
    answer = await readBounded(response);
  } catch (err) {
    if (timeout.aborted) throw new DeliveryError(`${attempt.target}: no answer within ${attempt.timeoutMs} ms`, true);
    if (attempt.signal.aborted) throw new DeliveryError(`${attempt.target}: delivery aborted`, true);
    throw new DeliveryError(`${attempt.target}: ${networkReason(err)}`, true);
  }
  if (response.status >= 200 && response.status < 300) return;
  const explained = attempt.explain?.(answer) ?? {};
  const reason = scrub(explained.reason ?? excerpt(answer), attempt.secrets);
  const retryable = response.status >= 500 || response.status === 429;
  const retryAfterMs = explained.retryAfterMs ?? retryAfter(response.headers.get('retry-after'));
  throw new DeliveryError(
    `${attempt.target} answered HTTP ${response.status}${reason === '' ? '' : `: ${reason}`}`,
    retryable,
    retryable ? retryAfterMs : undefined,
  );
}

async function readBounded(response: Response): Promise<string> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  while (size < ANSWER_READ_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  // Frees the connection instead of downloading the rest.
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(chunks).subarray(0, ANSWER_READ_BYTES).toString('utf8');
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 10.2.3), in ms from now; undefined when absent or unreadable. */
export function retryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function excerpt(answer: string): string {
  const line = answer.replace(/\s+/g, ' ').trim();
  return line.length <= ANSWER_EXCERPT_CHARS ? line : `${line.slice(0, ANSWER_EXCERPT_CHARS)}…`;
}

function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

/** The parts of a URL that must stay secret: its path and query (a Slack or webhook token lives there). */
export function urlSecrets(url: string): string[] {
  const parsed = new URL(url);
  // Each long segment too: a receiver quoting back only the token is still quoting the secret.
  const segments = parsed.pathname.split('/').filter((segment) => segment.length >= 8);
  return [parsed.pathname, parsed.search, parsed.password, ...segments].filter((part) => part.length > 1);
}
