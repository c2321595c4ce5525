import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { formatListen, type ListenAddress } from '../agent/kit/schema.js';

export interface MetricsServer {
  readonly address: string;
  close(): Promise<void>;
}

async function handle(registry: Registry, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    const body = await registry.metrics();
    response.writeHead(200, { 'content-type': registry.contentType }).end(request.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === '/') {
    response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><a href="/metrics">metrics</a></body></html>\n');
    return;
  }
  response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
}

/** The /metrics listener, separate from the admin API so it can face a remote Prometheus on its own terms. */
export async function startMetricsServer(registry: Registry, address: ListenAddress, log: Logger): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    handle(registry, request, response).catch((err: unknown) => {
      log.error({ err }, 'metrics request failed');
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end('internal error\n');
    });
  });
  server.keepAliveTimeout = 65_000;
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
