// Three (or more) real agents — cluster + certificates modules, own state dirs, own ports — on one Redis and
// one pebble behind the recording ACME proxy (it counts newOrder POSTs). Each node has its own TLS server that
// serves whatever its live/<name>/ holds at each handshake: the node's "web server", its deploy's verify target.
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { certificates } from '../../../src/modules/certificates/index.js';
import { cluster } from '../../../src/modules/cluster/index.js';
import type { CertificateView } from '../../../src/modules/certificates/cert-state.js';
import { startAcmeProxy, type AcmeProxy } from '../../harness/acme-proxy.js';
import { startPebble, type PebbleServer } from '../../harness/pebble.js';
import { redisCommand } from '../../harness/redis-client.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { baseConfig, startTestAgent, type TestAgent } from '../../helpers/agent.js';

export const CLUSTER_KEY = 'a-cluster-key-of-at-least-32-characters!';
export const CERT = 'site';
export const DOMAIN = 'site.example.com';

export interface Ca {
  pebble: PebbleServer;
  proxy: AcmeProxy;
  stop(): Promise<void>;
}

export async function startCa(): Promise<Ca> {
  const pebble = await startPebble();
  const proxy = await startAcmeProxy({ upstreamDirectoryUrl: pebble.directoryUrl, upstreamCa: pebble.ca });
  return {
    pebble,
    proxy,
    async stop() {
      await proxy.stop();
      await pebble.stop();
    },
  };
}

export interface FleetNode {
  name: string;
  agent: TestAgent;
  /** host:port of this node's TLS server (its deploy's verify target). */
  target: string;
  liveDir: string;
  /** Stops the agent and its TLS server. */
  close(): Promise<void>;
}

export interface NodeOptions {
  /** Port of this node's standalone http-01 listener. */
  httpPort: number;
  renewCheckInterval?: string;
  leaseTtl?: string;
}

/** A TLS server presenting live/<cert>/ as it is on disk at each handshake (no handshake while there is none). */
async function serveLive(liveDir: () => string): Promise<tls.Server> {
  const server = tls.createServer({
    SNICallback: (_name, done) => {
      Promise.all([readFile(path.join(liveDir(), 'fullchain.pem')), readFile(path.join(liveDir(), 'privkey.pem'))]).then(
        ([cert, key]) => done(null, tls.createSecureContext({ cert, key })),
        (err: Error) => done(err),
      );
    },
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

export async function startFleetNode(redis: RedisServer, ca: Ca, name: string, options: NodeOptions): Promise<FleetNode> {
  let liveDir = '';
  const server = await serveLive(() => liveDir);
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = await startTestAgent((dir) => {
    liveDir = path.join(dir, 'le', 'live', CERT);
    return baseConfig(
      dir,
      `cluster: { redis: "${redis.url}", name: fleet, node: ${name}, leaseTtl: ${options.leaseTtl ?? '2s'}, encryptionKey: "${CLUSTER_KEY}" }
certificates:
  dir: ${path.join(dir, 'le')}
  acme: { directory: "${ca.proxy.directoryUrl}", email: ops@example.com, caBundle: ${ca.proxy.ca}, requestTimeout: 5s }
  renewCheckInterval: ${options.renewCheckInterval ?? '1h'}
  certs:
    - name: ${CERT}
      domains: [${DOMAIN}]
      challenge: { type: http-01, standalone: { address: 127.0.0.1, port: ${options.httpPort} } }
      deploy: { command: "true", timeout: 10s, verify: "${target}" }
`,
    );
  }, [cluster, certificates]).catch(async (err: unknown) => {
    server.close();
    throw err;
  });
  return {
    name,
    agent,
    target,
    liveDir,
    async close() {
      await agent.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export async function view(node: FleetNode): Promise<CertificateView> {
  return (await (await fetch(node.agent.adminUrl(`/certs/${CERT}`))).json()) as CertificateView;
}

export async function renew(node: FleetNode): Promise<{ status: number; body: { result?: string; certificate?: CertificateView; message?: string } }> {
  const response = await fetch(node.agent.adminUrl(`/certs/${CERT}/renew`), { method: 'POST' });
  return { status: response.status, body: (await response.json()) as { result?: string; certificate?: CertificateView; message?: string } };
}

/** Polls `probe` until it returns a value (not undefined), bounded. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

/** The test process holds lease cert:<CERT> so that no node orders until `free()` (decides who orders first). */
export async function blockLease(redis: RedisServer): Promise<{ free(): Promise<void> }> {
  const key = `caretaker:fleet:lease:cert:${CERT}`;
  await redisCommand({ port: redis.port }, 'SET', key, '999999 test-blocker', 'PX', '120000');
  return { free: async () => void (await redisCommand({ port: redis.port }, 'DEL', key)) };
}

export { startRedis, type RedisServer };
