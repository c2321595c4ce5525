import { X509Certificate } from 'node:crypto';
import type { z } from 'zod';
import type { certificateView } from './answers.js';
import type { RenewalInfo } from './ari.js';
import type { CertConfig } from './config.js';
import { keyTypeOf } from './keys.js';
import { planRenewal, type RenewalPlan, type RenewalWindow } from './renewal-window.js';

/** What the admin API and the CLI show for one certificate (`GET /certs/:name`); also the module's cached state. */
export type CertificateView = z.infer<typeof certificateView>;

/**
 * Whether the certificate needs no attention: valid, or being renewed on time with a certificate in
 * place. A first order that failed or is still running (no certificate yet), an expired one and a
 * failing renewal all need it; health and `caretaker certs` share this answer.
 */
export function isHealthy(view: CertificateView): boolean {
  return view.state === 'valid' || (view.state === 'renewing' && view.consecutiveFailures === 0 && view.serial !== undefined);
}

/** Why the live certificate no longer fits its config (a new order is due at once), or undefined. */
export function configMismatch(cert: X509Certificate, config: CertConfig): string | undefined {
  const names = new Set(
    (cert.subjectAltName ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry.startsWith('DNS:'))
      .map((entry) => entry.slice(4).toLowerCase()),
  );
  const wanted = new Set(config.domains);
  if (names.size !== wanted.size || [...wanted].some((d) => !names.has(d))) return 'domains changed';
  if (keyTypeOf(cert.publicKey) !== config.keyType) return 'key type changed';
  return undefined;
}

export function validityOf(cert: X509Certificate): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) };
}

/** A plan that keeps its random ARI point for as long as the CA's window stays the same. */
export function choosePlan(
  cert: X509Certificate,
  ari: RenewalInfo | undefined,
  previous: { plan: RenewalPlan; window?: RenewalWindow } | undefined,
  now: Date,
  random: () => number,
): { plan: RenewalPlan; window?: RenewalWindow } {
  const validity = validityOf(cert);
  const window = ari?.window;
  const sameWindow =
    previous?.window && window && previous.window.start.getTime() === window.start.getTime() && previous.window.end.getTime() === window.end.getTime();
  if (sameWindow && previous.plan.reason === 'ari') {
    // Keep the chosen point, unless the urgent threshold has since overtaken it.
    const fresh = planRenewal(validity, { now, window, random: () => 0 });
    return fresh.reason === 'urgent' ? { plan: fresh, window } : { plan: previous.plan, window };
  }
  return { plan: planRenewal(validity, { now, ...(window ? { window } : {}), random }), ...(window ? { window } : {}) };
}
