import http from 'node:http';
import https from 'node:https';

/**
 * The HTTP transport under acme-client. Its own (axios) one has no timeout, retries connection
 * errors and obeys any Retry-After five times, and turns a refused connection into a TypeError;
 * this one bounds every request, never retries by itself, honours an AbortSignal and names the cause.
 */

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON for JSON bodies, the text otherwise (a PEM chain). */
  data: unknown;
}

export interface TransportOptions {
  timeoutMs: number;
  /** Extra trusted CA certificates (PEM) for the directory's TLS. */
  ca?: string;
  signal?: AbortSignal;
  userAgent: string;
}

/** A request that got no HTTP answer; `code` is the root cause (ECONNREFUSED, TIMEOUT, a TLS code…). */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'TransportError';
  }
}

const MAX_BODY_BYTES = 1024 * 1024;

function describeSocketError(err: NodeJS.ErrnoException, target: string): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${target} (ECONNREFUSED)`;
    case 'ECONNRESET':
      return `connection reset by ${target} (ECONNRESET)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${target} (${err.code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${target} unreachable (${err.code})`;
    default:
      return err.code ? `${err.message} (${err.code})` : err.message;
  }
}

function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined) out[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (contentType && /json/i.test(contentType) && text !== '') {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

export function httpRequest(
  url: string,
  method: string,
  body: unknown,
  headers: Record<string, string>,
  options: TransportOptions,
): Promise<HttpResponse> {
  const target = new URL(url);
  const where = `${target.hostname}:${target.port || (target.protocol === 'https:' ? 443 : 80)}`;
  const payload = body === undefined || body === null ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new TransportError(`${method.toUpperCase()} ${url}: cancelled`, 'ABORTED'));
      return;
    }
    const requestHeaders: Record<string, string | number> = { ...headers, 'user-agent': options.userAgent, accept: '*/*' };
    if (payload) {
      requestHeaders['content-length'] = payload.length;
      requestHeaders['content-type'] ??= 'application/jose+json';
    }
    const requestOptions: https.RequestOptions = { method: method.toUpperCase(), headers: requestHeaders, agent: false };
    if (target.protocol === 'https:' && options.ca) requestOptions.ca = options.ca;
    const req = (target.protocol === 'https:' ? https : http).request(target, requestOptions);

    let settled = false;
    const fail = (err: TransportError) => {
      if (settled) return;
      settled = true;
      cleanup();
      req.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new TransportError(`${method.toUpperCase()} ${url}: no response from ${where} within ${options.timeoutMs} ms (timeout)`, 'TIMEOUT')),
      options.timeoutMs,
    );
    const onAbort = () => fail(new TransportError(`${method.toUpperCase()} ${url}: cancelled`, 'ABORTED'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };

    req.on('error', (err: NodeJS.ErrnoException) =>
      fail(new TransportError(`${method.toUpperCase()} ${url}: ${describeSocketError(err, where)}`, err.code ?? 'EIO', { cause: err })),
    );
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) fail(new TransportError(`${method.toUpperCase()} ${url}: response larger than ${MAX_BODY_BYTES} bytes`, 'TOO_LARGE'));
        else chunks.push(chunk);
      });
      res.on('error', (err: NodeJS.ErrnoException) =>
        fail(new TransportError(`${method.toUpperCase()} ${url}: ${describeSocketError(err, where)}`, err.code ?? 'EIO', { cause: err })),
      );
      res.on('end', () => {
        if (settled) return;
        settled = true;
        cleanup();
        const responseHeaders = flattenHeaders(res.headers);
        resolve({
          status: res.statusCode ?? 0,
          headers: responseHeaders,
          data: parseBody(Buffer.concat(chunks).toString('utf8'), responseHeaders['content-type']),
        });
      });
    });
    req.end(payload);
  });
}
