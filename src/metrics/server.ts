import { stat, unlink } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { LISTENER_LIMITS, limitConnections, serverOptions } from '../agent/kit/http-limits.js';
import { formatListen, isLoopback, type ListenAddress } from '../agent/kit/schema.js';
import { createBasicAuth } from './basic-auth.js';
import { acceptsGzip, CONTENT_TYPES, negotiate } from './exposition.js';
import { ScrapeCache } from './scrape-cache.js';
import { readTlsMaterial, type TlsFiles, type WebConfig } from './web-config.js';

export interface MetricsServer {
  readonly address: string;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  /** From `metrics.webConfig`: TLS, basic auth and headers in node_exporter's format. */
  webConfig?: WebConfig;
  /** How long one rendering of the registry serves scrapes. */
  cacheMs?: number;
}

// A renewed certificate is picked up by the next connection after at most this long.
const CERT_RECHECK_MS = 10_000;
// Prometheus keeps one connection per target between scrapes (intervals up to a minute).
const LIMITS = { ...LISTENER_LIMITS, keepAliveTimeoutMs: 65_000 };

type Authorize = (authorization: string | undefined) => Promise<boolean>;

async function handle(cache: ScrapeCache, authorize: Authorize | undefined, headers: Record<string, string>, request: IncomingMessage, response: ServerResponse): Promise<void> {
  for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
  if (authorize && !(await authorize(request.headers.authorization))) {
    response.writeHead(401, { 'www-authenticate': 'Basic', 'content-type': 'text/plain' }).end('unauthorized\n');
    return;
  }
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    const format = negotiate(request.headers.accept);
    const gzipped = acceptsGzip(request.headers['accept-encoding']);
    const body = await cache.body(format, gzipped);
    response.writeHead(200, {
      'content-type': CONTENT_TYPES[format],
      'content-length': body.length,
      vary: 'Accept, Accept-Encoding',
      ...(gzipped ? { 'content-encoding': 'gzip' } : {}),
    });
    response.end(request.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === '/') {
    response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><a href="/metrics">metrics</a></body></html>\n');
    return;
  }
  response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
}

/** Go's client_auth_type policies, mapped onto Node's requestCert / rejectUnauthorized plus a post-handshake check. */
function clientCertPolicy(tls: TlsFiles): { requestCert: boolean; rejectUnauthorized: boolean; accept(socket: TLSSocket): boolean } {
  const hasCert = (socket: TLSSocket) => Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
  switch (tls.clientAuth) {
    case 'NoClientCert':
      return { requestCert: false, rejectUnauthorized: false, accept: () => true };
    case 'RequestClientCert':
      return { requestCert: true, rejectUnauthorized: false, accept: () => true };
    case 'RequireAnyClientCert':
      return { requestCert: true, rejectUnauthorized: false, accept: hasCert };
    case 'VerifyClientCertIfGiven':
      return { requestCert: true, rejectUnauthorized: false, accept: (socket) => !hasCert(socket) || socket.authorized };
    case 'RequireAndVerifyClientCert':
      return { requestCert: true, rejectUnauthorized: true, accept: (socket) => socket.authorized };
  }
}

async function createTlsServer(tls: TlsFiles, listener: (request: IncomingMessage, response: ServerResponse) => void, log: Logger): Promise<Server> {
  const policy = clientCertPolicy(tls);
  const material = await readTlsMaterial(tls);
  const server = createHttpsServer({ ...serverOptions(LIMITS), handshakeTimeout: LIMITS.headersTimeoutMs, ...material, minVersion: tls.minVersion, ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}), requestCert: policy.requestCert, rejectUnauthorized: policy.rejectUnauthorized }, listener);
  server.on('secureConnection', (socket: TLSSocket) => {
    if (!policy.accept(socket)) socket.destroy();
  });
  // exporter-toolkit re-reads the files on every handshake so renewed certificates apply without a
  // restart; we compare modification times, at most every CERT_RECHECK_MS, when a connection arrives.
  const files = [tls.certFile, tls.keyFile, ...(tls.clientCaFile ? [tls.clientCaFile] : [])];
  const stamp = async () => (await Promise.all(files.map((file) => stat(file)))).map((s) => s.mtimeMs).join(',');
  let loaded = await stamp();
  let checkedAt = performance.now();
  server.on('connection', () => {
    if (performance.now() - checkedAt < CERT_RECHECK_MS) return;
    checkedAt = performance.now();
    void (async () => {
      const current = await stamp();
      if (current === loaded) return;
      server.setSecureContext({ ...(await readTlsMaterial(tls)), minVersion: tls.minVersion, ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}) });
      loaded = current;
      log.info({ cert: tls.certFile }, 'metrics certificate reloaded');
    })().catch((err: unknown) => log.error({ err, cert: tls.certFile }, 'metrics certificate reload failed; keeping the previous one'));
  });
  return server;
}

/** The /metrics listener, separate from the admin API so it can face a remote Prometheus on its own terms. */
export async function startMetricsServer(registry: Registry, address: ListenAddress, log: Logger, options: MetricsServerOptions = {}): Promise<MetricsServer> {
  const { webConfig } = options;
  const cache = new ScrapeCache(registry, options.cacheMs);
  const users = webConfig?.users ?? {};
  const authorize = Object.keys(users).length > 0 ? createBasicAuth(users) : undefined;
  const listener = (request: IncomingMessage, response: ServerResponse) => {
    handle(cache, authorize, webConfig?.headers ?? {}, request, response).catch((err: unknown) => {
      log.error({ err }, 'metrics request failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end('internal error\n');
    });
  };
  const server: Server = webConfig?.tls
    ? await createTlsServer(webConfig.tls, listener, log).catch((err: unknown) => {
        throw new Error(`metrics.webConfig ${webConfig.file}: ${(err as Error).message}`, { cause: err });
      })
    : createHttpServer(serverOptions(LIMITS), listener);
  limitConnections(server, LIMITS, log);
  if (address.kind === 'unix') await unlink(address.path).catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      server.off('error', reject);
      resolve();
    };
    if (address.kind === 'unix') server.listen(address.path, onListening);
    else server.listen(address.port, address.host, onListening);
  });
  if (!isLoopback(address) && !webConfig?.tls && !authorize) {
    log.warn({ listen: formatListen(address) }, 'metrics listener is reachable from other hosts without TLS or basic auth; set metrics.webConfig');
  }
  const bound = server.address();
  const actual: ListenAddress =
    address.kind === 'tcp' && bound && typeof bound === 'object' ? { kind: 'tcp', host: address.host, port: bound.port } : address;
  return {
    address: formatListen(actual),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
