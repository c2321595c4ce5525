import type { PeerCertificate } from 'node:tls';

/** The served certificate's not-after as Unix seconds, when there is one. */
export function certNotAfterSeconds(certificate: PeerCertificate | undefined): number | undefined {
  if (!certificate?.valid_to) return undefined;
  const ms = Date.parse(certificate.valid_to);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}
