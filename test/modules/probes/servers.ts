import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { generateServerCerts, type ServerCerts } from '../../harness/certs.js';
import { makeTempDir } from '../../harness/tmpdir.js';

export interface TestHttpServer {
  port: number;
  url: string;
  /** What the next answers are: status and body. */
  answer: { status: number; body: string };
  /** Headers of the last request received. */
  lastHeaders: http.IncomingHttpHeaders | undefined;
  /** TCP connections accepted so far. */
  connectionsAccepted(): number;
  certs?: ServerCerts;
  close(): Promise<void>;
}

/** A node:http (or https, with a certificate from a throwaway CA) server whose answer a test can change. */
export async function startHttpServer(options: { tls?: boolean } = {}): Promise<TestHttpServer> {
  const tmp = options.tls ? await makeTempDir('probes-https') : undefined;
  const certs = tmp ? await generateServerCerts(tmp.path) : undefined;
  let accepted = 0;
  const state: TestHttpServer = {
    port: 0,
    url: '',
    answer: { status: 200, body: 'ok' },
    lastHeaders: undefined,
    connectionsAccepted: () => accepted,
    certs,
    close: async () => undefined,
  };
  const handler: http.RequestListener = (req, res) => {
    state.lastHeaders = req.headers;
    req.resume();
    res.writeHead(state.answer.status, { 'content-type': 'text/plain' }).end(state.answer.body);
  };
  const server = certs
    ? https.createServer({ cert: await readFile(certs.cert), key: await readFile(certs.key) }, handler)
    : http.createServer(handler);
  server.on('connection', () => accepted++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.url = `${certs ? 'https' : 'http'}://127.0.0.1:${state.port}`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await tmp?.cleanup();
  };
  return state;
}
