import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { z } from 'zod';
import { existingPath } from './schema.js';

/** A TLS client block as the rest of a module sees it, whichever keys the file used. */
export interface TlsClientConfig {
  /** Check the server certificate (chain and name). Off still encrypts. */
  verify: boolean;
  /** PEM file of the CA that signed the server certificate. */
  ca?: string;
  /** The name the certificate is checked against and sent as SNI, when it is not the URL's host. */
  serverName?: string;
}

/**
 * The `tls` block of every client that connects over TLS (probes, backups, and any module to come): one set
 * of keys everywhere. `insecure` is what backups called `verify: false` until this release; it is still
 * read, and the loader warns about it (it is marked deprecated).
 */
export function tlsClient() {
  return z
    .strictObject({
      verify: z.boolean().optional().meta({ description: 'check the server certificate (chain and name); false still encrypts but trusts any certificate (test servers)', default: true }),
      ca: existingPath({ kind: 'file' }).optional().meta({ description: 'PEM file of the CA that signed the server certificate, for private CAs; read at each connect' }),
      serverName: z.string().min(1).optional().meta({ description: "name the certificate is checked against (and sent as SNI) when it differs from the URL's host" }),
      insecure: z
        .boolean()
        .optional()
        .meta({ deprecated: true, description: '`insecure: true` is the old spelling of `verify: false`, read until the next release: write `verify` instead' }),
    })
    .superRefine((tls, ctx) => {
      if (tls.insecure !== undefined && tls.verify !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['insecure'], message: "give only 'verify': 'insecure' is its deprecated opposite" });
      }
    })
    .transform(({ insecure, verify, ...rest }): TlsClientConfig => ({ ...rest, verify: verify ?? !(insecure ?? false) }));
}

/** Node TLS options from a `tls` block for a connection to `host`; the CA file is read at each call so a replaced CA is picked up. */
export async function tlsConnectOptions(config: TlsClientConfig, host: string): Promise<ConnectionOptions> {
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
    // A TLS code, so a probe reports reason `tls`, not the `refused` a bare ENOENT would mean.
    throw Object.assign(new Error(`cannot read the CA file ${path}`, { cause }), { code: 'ERR_TLS_CA_UNREADABLE' });
  }
}
