import type { X509Certificate } from 'node:crypto';
import { authorityKeyIdentifier, serialBytes } from './der.js';
import type { RenewalWindow } from './renewal-window.js';

/** RFC 9773 ACME Renewal Information: the certificate's ID, and reading the CA's answer. */

/** Polling again sooner than this would only load the CA; later than this could miss a revocation window. */
export const ARI_MIN_POLL_MS = 60_000;
export const ARI_MAX_POLL_MS = 24 * 3_600_000;
/** RFC 9773 §4.3 suggests six hours when the CA sends no Retry-After. */
export const ARI_DEFAULT_POLL_MS = 6 * 3_600_000;

/** `base64url(AKI keyIdentifier) "." base64url(serial)`, the path segment and the `replaces` value. */
export function ariCertId(cert: X509Certificate): string | undefined {
  const aki = authorityKeyIdentifier(cert.raw);
  if (!aki) return undefined;
  return `${Buffer.from(aki).toString('base64url')}.${Buffer.from(serialBytes(cert.raw)).toString('base64url')}`;
}

export interface RenewalInfo {
  window: RenewalWindow;
  explanationUrl?: string;
  /** When to ask again (Retry-After, clamped). */
  nextPollAt: Date;
}

export function renewalInfoUrl(base: string, certId: string): string {
  return `${base.replace(/\/+$/, '')}/${certId}`;
}

/** Retry-After as seconds or an HTTP date, clamped to [min, max]; the default when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now: Date, bounds: { min: number; max: number; fallback: number }): number {
  let ms: number | undefined;
  if (header !== undefined && header.trim() !== '') {
    const text = header.trim();
    if (/^\d+$/.test(text)) ms = Number(text) * 1000;
    else {
      const date = Date.parse(text);
      if (!Number.isNaN(date)) ms = date - now.getTime();
    }
  }
  if (ms === undefined) ms = bounds.fallback;
  return Math.min(bounds.max, Math.max(bounds.min, ms));
}

/** Validates a renewalInfo response body; throws with what is wrong. */
export function parseRenewalInfo(body: unknown, retryAfter: string | undefined, now: Date): RenewalInfo {
  const window = (body as { suggestedWindow?: { start?: unknown; end?: unknown } } | null)?.suggestedWindow;
  const start = typeof window?.start === 'string' ? new Date(window.start) : undefined;
  const end = typeof window?.end === 'string' ? new Date(window.end) : undefined;
  if (!start || !end || Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) {
    throw new Error('renewalInfo: suggestedWindow with RFC 3339 start and end is missing');
  }
  if (end.getTime() < start.getTime()) throw new Error('renewalInfo: suggestedWindow ends before it starts');
  const explanation = (body as { explanationURL?: unknown }).explanationURL;
  const pollMs = retryAfterMs(retryAfter, now, { min: ARI_MIN_POLL_MS, max: ARI_MAX_POLL_MS, fallback: ARI_DEFAULT_POLL_MS });
  return {
    window: { start, end },
    ...(typeof explanation === 'string' ? { explanationUrl: explanation } : {}),
    nextPollAt: new Date(now.getTime() + pollMs),
  };
}
