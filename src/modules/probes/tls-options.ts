import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import type { TlsClientConfig } from './kind.js';

/** Node TLS options from a probe's `tls` block; the CA file is read at each connect so a replaced CA is picked up. */
export async function tlsOptions(config: TlsClientConfig, host: string): Promise<ConnectionOptions> {
  const serverName = config.serverName ?? (isIP(host) === 0 ? host : undefined);
  return {
    rejectUnauthorized: config.verify,
    ...(config.ca === undefined ? {} : { ca: await readCa(config.ca) }),
    // SNI must not carry an IP address (RFC 6066); Node still checks an IP against the certificate's IP SANs.
    ...(serverName === undefined ? {} : { servername: serverName }),
  };
}

async function readCa(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    // A TLS code so the check reports reason `tls`, not the `refused` a bare ENOENT would mean.
    throw Object.assign(new Error(`cannot read the CA file ${path}`, { cause }), { code: 'ERR_TLS_CA_UNREADABLE' });
  }
}

/** The served certificate's not-after as Unix seconds, when there is one. */
export function certNotAfterSeconds(certificate: PeerCertificate | undefined): number | undefined {
  if (!certificate?.valid_to) return undefined;
  const ms = Date.parse(certificate.valid_to);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}
