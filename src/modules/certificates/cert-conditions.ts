import type { ConditionReport, ConditionSeverity } from '../../agent/kit/conditions.js';
import type { Validity } from './renewal-window.js';

export const renewalKey = (cert: string) => `cert:${cert}:renewal`;
export const expiryKey = (cert: string) => `cert:${cert}:expiry`;
export const deployKey = (cert: string) => `cert:${cert}:deploy`;

/** `fine` resolves the condition; `undecided` leaves it as it is until the renewal due now ends. */
export type ExpiryLevel = ConditionSeverity | 'fine' | 'undecided';

/**
 * How worrying the live certificate's remaining time is: critical once a sixth of its lifetime is left;
 * a warning from a third once a renewal has failed. The lifetime rule renews at a third (a CA's ARI
 * window may say a little later), so before any failure a third left is the plan at work: undecided,
 * which after a restart neither re-fires nor resolves an alert still open from before.
 */
export function expiryLevel(validity: Validity, now: Date, renewalFailing: boolean): ExpiryLevel {
  const life = validity.notAfter.getTime() - validity.notBefore.getTime();
  const left = validity.notAfter.getTime() - now.getTime();
  if (left <= life / 6) return 'critical';
  if (left <= life / 3) return renewalFailing ? 'warning' : 'undecided';
  return 'fine';
}

export function expiryReport(cert: string, validity: Validity, now: Date, severity: ConditionSeverity, lastError: string | undefined): ConditionReport {
  const left = validity.notAfter.getTime() - now.getTime();
  const when = left <= 0 ? `expired at ${validity.notAfter.toISOString()}` : `expires ${validity.notAfter.toISOString()} (in ${describeSpan(left)})`;
  return {
    key: expiryKey(cert),
    severity,
    summary: left <= 0 ? `certificate ${cert} has expired` : `certificate ${cert} expires soon`,
    detail: `certificate ${cert} ${when} and has not been renewed${lastError ? `: ${lastError}` : ''}`,
    item: cert,
  };
}

function describeSpan(ms: number): string {
  const hours = ms / 3_600_000;
  return hours >= 48 ? `${Math.floor(hours / 24)} days` : hours >= 2 ? `${Math.floor(hours)} hours` : `${Math.max(1, Math.floor(ms / 60_000))} minutes`;
}
