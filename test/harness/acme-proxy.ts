import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateServerCerts } from './certs.js';
import { makeTempDir } from './tmpdir.js';

/**
 * An HTTPS reverse proxy in front of an ACME server (pebble), for what Debian's pebble 2.4 lacks: ARI and
 * profiles. Every request goes upstream with its Host header and path unchanged. Pebble builds its directory
 * and resource URLs from the Host header and checks each JWS `url` against Host + path, so the client talks
 * only to the proxy and its signatures still verify. The proxy only reads: it adds `renewalInfo` (answered
 * here) and optionally `meta.profiles` to the directory, and records the payload of every newOrder POST.
 */

export interface RenewalInfoAnswer {
  window: { start: string; end: string };
  /** Retry-After header value (seconds or an HTTP date). */
  retryAfter: string;
}

export interface AcmeProxy {
  /** https://127.0.0.1:<port>/dir */
  directoryUrl: string;
  /** PEM path of the CA that signed the proxy's certificate; clients trust it (acme.caBundle). */
  ca: string;
  /** Decoded JWS payloads of newOrder POSTs, oldest first. */
  readonly newOrders: Array<Record<string, unknown>>;
  /** The account (JWS `kid`) each newOrder POST was signed as, in the same order. */
  readonly newOrderAccounts: string[];
  /** ARI cert IDs asked for at the renewalInfo resource, oldest first. */
  readonly renewalInfoRequests: string[];
  /** The window the renewalInfo resource answers with; 404 while undefined. */
  renewalInfo: RenewalInfoAnswer | undefined;
  /** Added to the directory as `meta.profiles` while set. */
  profiles: Record<string, string> | undefined;
  stop(): Promise<void>;
}

export interface AcmeProxyOptions {
  /** Upstream directory, e.g. pebble.directoryUrl; only its origin is used. */
  upstreamDirectoryUrl: string;
  /** PEM path of the CA the upstream's certificate is signed by. */
  upstreamCa: string;
  /** Leave `renewalInfo` out of the directory (an ACME server without ARI). */
  withoutRenewalInfo?: boolean;
}

const RENEWAL_INFO_PATH = '/renewal-info/';
const UPSTREAM_TIMEOUT_MS = 10_000;

export async function startAcmeProxy(options: AcmeProxyOptions): Promise<AcmeProxy> {
  const upstream = new URL(options.upstreamDirectoryUrl);
  const directoryPath = upstream.pathname;
  const upstreamCa = await readFile(options.upstreamCa);
  const tmp = await makeTempDir('acme-proxy');
  const certs = await generateServerCerts(tmp.path);
  const [cert, key] = await Promise.all([readFile(certs.cert), readFile(certs.key)]);

  const newOrders: Array<Record<string, unknown>> = [];
  const newOrderAccounts: string[] = [];
  const renewalInfoRequests: string[] = [];
  let newOrderPath: string | undefined;

  const forward = (req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const upstreamReq = https.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, ca: upstreamCa, agent: false, timeout: UPSTREAM_TIMEOUT_MS },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const out: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) out[name] = value;
            resolve({ status: res.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) });
          });
        },
      );
      upstreamReq.on('timeout', () => upstreamReq.destroy(new Error(`upstream ${req.method} ${req.url} timed out`)));
      upstreamReq.on('error', reject);
      upstreamReq.end(body);
    });

  const send = (res: ServerResponse, status: number, headers: Record<string, string | string[]>, body: Buffer) => {
    const out = { ...headers };
    delete out['content-length'];
    delete out['transfer-encoding'];
    delete out.connection;
    res.writeHead(status, { ...out, 'content-length': String(body.length) }).end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const origin = `https://${req.headers.host}`;
    if (path.startsWith(RENEWAL_INFO_PATH) && req.method === 'GET') {
      renewalInfoRequests.push(path.slice(RENEWAL_INFO_PATH.length));
      const answer = proxy.renewalInfo;
      if (!answer) return send(res, 404, {}, Buffer.alloc(0));
      const json = Buffer.from(JSON.stringify({ suggestedWindow: answer.window }));
      return send(res, 200, { 'content-type': 'application/json', 'retry-after': answer.retryAfter }, json);
    }
    if (req.method === 'POST' && path === newOrderPath) {
      newOrders.push(jwsPayload(body));
      newOrderAccounts.push(jwsKid(body));
    }
    const upstreamRes = await forward(req, body);
    if (path !== directoryPath || upstreamRes.status !== 200) return send(res, upstreamRes.status, upstreamRes.headers, upstreamRes.body);
    const directory = JSON.parse(upstreamRes.body.toString('utf8')) as { newOrder?: string; meta?: Record<string, unknown> } & Record<string, unknown>;
    if (directory.newOrder) newOrderPath = new URL(directory.newOrder).pathname;
    if (!options.withoutRenewalInfo) directory.renewalInfo = `${origin}${RENEWAL_INFO_PATH}`;
    if (proxy.profiles) directory.meta = { ...directory.meta, profiles: proxy.profiles };
    return send(res, 200, upstreamRes.headers, Buffer.from(JSON.stringify(directory)));
  };

  const server = https.createServer({ cert, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`acme proxy: ${(err as Error).message}`);
      });
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    await tmp.cleanup();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;

  const proxy: AcmeProxy = {
    directoryUrl: `https://127.0.0.1:${port}${directoryPath}`,
    ca: certs.ca,
    newOrders,
    newOrderAccounts,
    renewalInfoRequests,
    renewalInfo: undefined,
    profiles: undefined,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tmp.cleanup();
    },
  };
  return proxy;
}

/** The `kid` of a flattened JWS's protected header: the account URL it is signed as. */
function jwsKid(body: Buffer): string {
  const jws = JSON.parse(body.toString('utf8')) as { protected?: string };
  const header = JSON.parse(Buffer.from(jws.protected ?? '', 'base64url').toString('utf8') || '{}') as { kid?: string };
  return header.kid ?? '';
}

/** The payload of a flattened JWS (RFC 7515 §7.2.2): base64url JSON; `{}` for POST-as-GET's empty payload. */
function jwsPayload(body: Buffer): Record<string, unknown> {
  const jws = JSON.parse(body.toString('utf8')) as { payload?: string };
  if (!jws.payload) return {};
  return JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}
