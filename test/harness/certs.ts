import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { requireBinaries } from './deps.js';
import { runCommand } from './process.js';

export interface ServerCerts {
  /** PEM of the throwaway CA; clients trust this file. */
  ca: string;
  /** PEM certificate for 127.0.0.1 and localhost, signed by the CA. */
  cert: string;
  /** Unencrypted PEM private key of `cert`. */
  key: string;
}

/**
 * Writes a fresh CA and a server certificate for IP:127.0.0.1 and DNS:localhost into dir, so clients can
 * verify the full chain and hostname (sslmode=verify-full, rejectUnauthorized) instead of turning checks off.
 */
export async function generateServerCerts(dir: string): Promise<ServerCerts> {
  const { openssl } = requireBinaries(['openssl']);
  const file = (name: string) => path.join(dir, name);
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  await runCommand(openssl, [
    'req', '-x509', ...ecKey, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '7',
    '-subj', '/CN=caretaker test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await runCommand(openssl, [
    'req', ...ecKey, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost',
  ]);
  await writeFile(
    file('server.ext'),
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
    ].join('\n'),
  );
  await runCommand(openssl, [
    'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-CAcreateserial', '-days', '7', '-extfile', file('server.ext'), '-out', file('server.pem'),
  ]);
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key') };
}
