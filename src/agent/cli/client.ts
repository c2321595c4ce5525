import { request } from 'node:http';
import { ApiError, DaemonUnreachableError, type AdminClient } from '../kit/cli.js';
import { formatListen, type ListenAddress } from '../kit/schema.js';

export interface ClientOptions {
  address: ListenAddress;
  token?: string;
  timeoutMs?: number;
}

/** Talks to the admin API over loopback TCP or its unix socket. */
export function createAdminClient(options: ClientOptions): AdminClient {
  const where = formatListen(options.address);
  const call = <T>(method: string, path: string, body?: unknown): Promise<T> =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers: Record<string, string> = { accept: 'application/json' };
      if (payload !== undefined) headers['content-type'] = 'application/json';
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      const target =
        options.address.kind === 'unix'
          ? { socketPath: options.address.path }
          : { host: options.address.host, port: options.address.port };
      const req = request({ ...target, method, path, headers, timeout: options.timeoutMs ?? 120_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // a non-JSON answer is reported as text
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(parsed as T);
          const body = (parsed ?? {}) as { error?: string; message?: string };
          reject(new ApiError(status, body.error ?? `http_${status}`, body.message ?? (text || `HTTP ${status}`), parsed));
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${where} within ${options.timeoutMs ?? 120_000} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EACCES'].includes(err.code ?? '')) reject(new DaemonUnreachableError(where, { cause: err }));
        else reject(err);
      });
      req.end(payload);
    });
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body ?? {}),
  };
}
