import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Redis, RedisOptions } from 'ioredis';

export interface RedisTlsOptions {
  /** PEM file of the CA that signed the server certificate (default: the system store). */
  ca?: string;
  /** Skip certificate verification; for test servers only. */
  insecure: boolean;
}

export interface RedisEndpoint {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls?: { ca?: Buffer; rejectUnauthorized: boolean; servername?: string };
}

/** redis[s]://[user[:password]@]host[:port][/db] with optional TLS settings → where and how to connect. */
export function parseRedisUrl(text: string, tlsOptions: RedisTlsOptions | undefined): RedisEndpoint {
  const url = new URL(text);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const endpoint: RedisEndpoint = {
    host,
    port: url.port ? Number(url.port) : 6379,
    db: Number(url.pathname.slice(1) || '0'),
  };
  if (url.username) endpoint.username = decodeURIComponent(url.username);
  if (url.password) endpoint.password = decodeURIComponent(url.password);
  if (url.protocol === 'rediss:') {
    endpoint.tls = {
      rejectUnauthorized: !(tlsOptions?.insecure ?? false),
      ...(tlsOptions?.ca ? { ca: readFileSync(tlsOptions.ca) } : {}),
      ...(net.isIP(host) ? {} : { servername: host }),
    };
  }
  return endpoint;
}

/**
 * An ioredis client that fails fast instead of retrying forever: a backup run reports, it does not wait.
 * ioredis is loaded on first use, so an agent without Redis jobs never pays for it.
 */
export async function redisClient(endpoint: RedisEndpoint): Promise<Redis> {
  // ioredis is CommonJS: the bundle gives a lazily imported CommonJS package only its `default`.
  const { Redis } = (await import('ioredis')).default;
  const options: RedisOptions = {
    host: endpoint.host,
    port: endpoint.port,
    db: endpoint.db,
    lazyConnect: true,
    connectTimeout: 10_000,
    commandTimeout: 60_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    retryStrategy: () => null,
  };
  if (endpoint.username) options.username = endpoint.username;
  if (endpoint.password) options.password = endpoint.password;
  if (endpoint.tls) options.tls = endpoint.tls;
  const client = new Redis(options);
  // Failures reach the caller as rejected commands; the event would only be printed by ioredis.
  client.on('error', () => undefined);
  return client;
}

/** A raw socket to the server, plain or TLS, for speaking the replication protocol. */
export function rawConnect(endpoint: RedisEndpoint, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket: net.Socket = endpoint.tls
      ? tls.connect({ host: endpoint.host, port: endpoint.port, ...endpoint.tls })
      : net.connect({ host: endpoint.host, port: endpoint.port });
    const onAbort = () => socket.destroy(new Error('cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => signal.removeEventListener('abort', onAbort));
    socket.setTimeout(10_000, () => socket.destroy(new Error(`connecting to ${endpoint.host}:${endpoint.port} timed out`)));
    socket.once('error', reject);
    socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** The server's redis_version from INFO, or undefined when INFO is not allowed. */
export async function redisVersion(client: Redis): Promise<string | undefined> {
  try {
    const info = await client.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1];
  } catch {
    return undefined;
  }
}

/** A reply error that means the command does not exist or may not be used here (renamed, ACL, managed service). */
export function isRefusal(message: string): boolean {
  return /unknown command|NOPERM|not allowed|unsupported|disabled/i.test(message);
}
