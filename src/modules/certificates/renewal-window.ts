/**
 * When to renew, as pure functions of the certificate's validity and the time (no I/O, time injected).
 * Nothing here assumes a 90-day lifetime: CAs shorten them (Let's Encrypt 45-day `tlsserver`, 6-day
 * `shortlived`), so every threshold is a fraction of the certificate's own lifetime.
 */

const DAY_MS = 86_400_000;

/** Lifetimes up to this renew at half their life, longer ones when a third remains. */
export const SHORT_LIVED_MAX_MS = 10 * DAY_MS;

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/** A window suggested by the CA through ACME Renewal Information (RFC 9773). */
export interface RenewalWindow {
  start: Date;
  end: Date;
}

export type RenewalReason = 'lifetime' | 'ari' | 'urgent';

export interface RenewalPlan {
  /** When to start the order; in the past means now. */
  at: Date;
  reason: RenewalReason;
}

function lifetimeMs(v: Validity): number {
  return Math.max(0, v.notAfter.getTime() - v.notBefore.getTime());
}

/** The default point: a third of the lifetime left, or half of it for lifetimes of 10 days or less. */
export function lifetimeRenewalTime(v: Validity): Date {
  const life = lifetimeMs(v);
  const remaining = life <= SHORT_LIVED_MAX_MS ? life / 2 : life / 3;
  return new Date(v.notAfter.getTime() - remaining);
}

/** Past this point (1/20 of the lifetime left) we renew at once, whatever the CA's window says. */
export function urgentRenewalTime(v: Validity): Date {
  return new Date(v.notAfter.getTime() - lifetimeMs(v) / 20);
}

/**
 * A uniformly random point inside the CA's window, as RFC 9773 §4.2 asks so that clients spread out.
 * `random` returns [0, 1); a window that has already ended means "now".
 */
export function pointInWindow(window: RenewalWindow, now: Date, random: () => number): Date {
  const start = window.start.getTime();
  const end = Math.max(start, window.end.getTime());
  if (end <= now.getTime()) return new Date(now);
  const from = Math.max(start, now.getTime());
  return new Date(from + Math.floor(random() * (end - from)));
}

/**
 * The renewal plan for a certificate. With an ARI window, its random point wins unless it falls
 * after the urgent threshold; without one, the lifetime rule applies.
 */
export function planRenewal(v: Validity, options: { now: Date; window?: RenewalWindow; random?: () => number }): RenewalPlan {
  const urgent = urgentRenewalTime(v);
  if (options.now.getTime() >= urgent.getTime()) return { at: new Date(options.now), reason: 'urgent' };
  if (options.window) {
    const point = pointInWindow(options.window, options.now, options.random ?? Math.random);
    return point.getTime() < urgent.getTime() ? { at: point, reason: 'ari' } : { at: urgent, reason: 'urgent' };
  }
  return { at: lifetimeRenewalTime(v), reason: 'lifetime' };
}
