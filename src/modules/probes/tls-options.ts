import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import type { TlsClientConfig } from './kind.js';

/** Node TLS options from a probe's `tls` block; the CA file is read at each connect so a replaced CA is picked up. */
export async function tlsOptions(config: TlsClientConfig, host: string): Promise<ConnectionOptions> {
  const serverName = config.serverName ?? (isIP(host) === 0 ? host : undefined);
  return {
    rejectUnauthorized: config.verify,
    ...(config.ca === undefined ? {} : { ca: await readFile(config.ca) }),
    // SNI must not carry an IP address (RFC 6066); Node still checks an IP against the certificate's IP SANs.
    ...(serverName === undefined ? {} : { servername: serverName }),
  };
}

/** The served certificate's not-after as Unix seconds, when there is one. */
export function certNotAfterSeconds(certificate: PeerCertificate | undefined): number | undefined {
  if (!certificate?.valid_to) return undefined;
  const ms = Date.parse(certificate.valid_to);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}
