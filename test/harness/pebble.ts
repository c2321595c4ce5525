import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateServerCerts } from './certs.js';
import { requireBinaries } from './deps.js';
import { httpsGet } from './https.js';
import { canConnect, freePort, retryOnPortClash } from './ports.js';
import { startServerProcess, type ServerProcess, restartable, type Restartable } from './process.js';
import { makeTempDir } from './tmpdir.js';

export interface PebbleOptions {
  /** Percentage of valid nonces pebble rejects as badNonce (PEBBLE_WFE_NONCEREJECT); 0 by default. */
  nonceReject?: number;
  /** Extra environment for pebble, e.g. { PEBBLE_VA_ALWAYS_VALID: '1' }; wins over the defaults. */
  env?: Record<string, string>;
  /**
   * External Account Binding keys, kid → base64url HMAC key. When given, pebble requires EAB on newAccount
   * (`externalAccountBindingRequired`) and accepts only these.
   */
  eabKeys?: Record<string, string>;
}

/**
 * down() stops pebble only (challtestsrv keeps running), to test an outage; after up() on the same ports
 * all ACME state and the root are new, as when a CA forgets accounts.
 */
export interface PebbleServer extends Restartable {
  /** ACME directory, https://127.0.0.1:<port>/dir */
  directoryUrl: string;
  /** Pebble's own management API (https, same certificate): /roots/0, /intermediates/0, ... */
  managementUrl: string;
  /** CA (PEM path) that signed the certificate of both pebble listeners; ACME clients must trust it. */
  ca: string;
  /** Port pebble connects to on 127.0.0.1 for http-01 validation; the client under test listens here. */
  httpPort: number;
  /** Port pebble connects to on 127.0.0.1 for tls-alpn-01 validation. */
  tlsPort: number;
  challtestsrv: {
    /** http://127.0.0.1:<port>: POST /set-txt, /clear-txt, /add-a, ... to mock DNS for pebble. */
    managementUrl: string;
    /** The mock DNS server pebble resolves through (UDP and TCP on 127.0.0.1). */
    dnsPort: number;
  };
  readonly pid: number;
  /** PEM of the root that signs issued certificates; pebble makes a new one on every start. */
  rootCertPem(): Promise<string>;
}

/**
 * Pebble (ACME test CA) with pebble-challtestsrv as its DNS. Every name resolves to 127.0.0.1 (A only; no AAAA,
 * so validation never tries ::1), so pebble validates http-01 at http://127.0.0.1:<httpPort>.
 */
export async function startPebble(options: PebbleOptions = {}): Promise<PebbleServer> {
  const bin = requireBinaries(['pebble', 'pebble-challtestsrv', 'openssl']);
  const tmp = await makeTempDir('pebble');
  let challtestsrv: ServerProcess | undefined;
  try {
    const certs = await generateServerCerts(tmp.path);

    let dnsPort = 0;
    let challtestsrvPort = 0;
    challtestsrv = await retryOnPortClash(async () => {
      dnsPort = await freePort();
      challtestsrvPort = await freePort();
      return startServerProcess({
        name: 'pebble-challtestsrv',
        command: bin['pebble-challtestsrv'],
        // An empty address disables a listener: pebble talks to the client under test, not to challtestsrv.
        args: [
          '-http01', '', '-https01', '', '-tlsalpn01', '',
          '-dns01', `127.0.0.1:${dnsPort}`,
          '-management', `127.0.0.1:${challtestsrvPort}`,
          '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
        ],
        cwd: tmp.path,
        isReady: async () => (await canConnect(challtestsrvPort)) && (await canConnect(dnsPort)),
      });
    });

    const configFile = path.join(tmp.path, 'pebble-config.json');
    const env = {
      ...process.env,
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: String(options.nonceReject ?? 0),
      PEBBLE_AUTHZREUSE: '0',
      ...options.env,
    };
    let listenPort = 0;
    let managementPort = 0;
    let httpPort = 0;
    let tlsPort = 0;
    let current: ServerProcess | undefined;
    const launch = async () => {
      current = await startServerProcess({
        name: 'pebble',
        command: bin.pebble,
        args: ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`],
        cwd: tmp.path,
        env,
        isReady: async () => (await httpsGet(`https://127.0.0.1:${listenPort}/dir`, certs.ca)).status === 200,
      });
    };
    await retryOnPortClash(async () => {
      [listenPort, managementPort, httpPort, tlsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
      const config = {
        pebble: {
          listenAddress: `127.0.0.1:${listenPort}`,
          managementListenAddress: `127.0.0.1:${managementPort}`,
          certificate: certs.cert,
          privateKey: certs.key,
          httpPort,
          tlsPort,
          ocspResponderURL: '',
          externalAccountBindingRequired: options.eabKeys !== undefined,
          ...(options.eabKeys ? { externalAccountMACKeys: options.eabKeys } : {}),
        },
      };
      await writeFile(configFile, JSON.stringify(config, null, 2));
      await launch();
    });

    const managementUrl = `https://127.0.0.1:${managementPort}`;
    const down = async () => {
      await current?.stop();
    };
    return {
      directoryUrl: `https://127.0.0.1:${listenPort}/dir`,
      managementUrl,
      ca: certs.ca,
      httpPort,
      tlsPort,
      challtestsrv: { managementUrl: `http://127.0.0.1:${challtestsrvPort}`, dnsPort },
      get pid() {
        return current!.pid;
      },
      async rootCertPem() {
        const response = await httpsGet(`${managementUrl}/roots/0`, certs.ca);
        if (response.status !== 200) throw new Error(`pebble /roots/0 answered ${response.status}: ${response.body}`);
        return response.body;
      },
      ...restartable({
        down,
        launch,
        async cleanup() {
          await challtestsrv?.stop();
          await tmp.cleanup();
        },
      }),
    };
  } catch (error) {
    await challtestsrv?.stop();
    await tmp.cleanup();
    throw error;
  }
}
