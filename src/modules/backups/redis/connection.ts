import net from 'node:net';
import tls from 'node:tls';
import type { Redis } from 'ioredis';
import { connectRedis, redisAddress, type RedisConnection, type RedisTarget } from '../../../agent/kit/redis.js';

/** Connecting, TLS and AUTH together; a port that accepts and never answers fails after this. */
const CONNECT_TIMEOUT_MS = 10_000;
const COMMAND_TIMEOUT_MS = 60_000;

/** A connection through the kit, so a backup or restore names the same cause a probe of that URL does. */
export function openRedis(target: RedisTarget, signal: AbortSignal): Promise<RedisConnection> {
  return connectRedis(target, { connectTimeoutMs: CONNECT_TIMEOUT_MS, commandTimeoutMs: COMMAND_TIMEOUT_MS }, signal);
}

/** A raw socket to the server, plain or TLS, for speaking the replication protocol. */
export function rawConnect(target: RedisTarget, signal: AbortSignal): Promise<net.Socket> {
  const socket: net.Socket = target.tls ? tls.connect({ host: target.host, port: target.port, ...target.tls }) : net.connect({ host: target.host, port: target.port });
  return whenConnected(socket, target.tls ? 'secureConnect' : 'connect', redisAddress(target), signal);
}

/** A raw socket to a scratch redis-server of our own, on its unix socket. */
export function rawConnectUnix(path: string, signal: AbortSignal): Promise<net.Socket> {
  return whenConnected(net.connect({ path }), 'connect', path, signal);
}

function whenConnected(socket: net.Socket, ready: 'connect' | 'secureConnect', address: string, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const onAbort = () => socket.destroy(new Error('cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => signal.removeEventListener('abort', onAbort));
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`connecting to ${address} timed out`)));
    socket.once('error', reject);
    socket.once(ready, () => {
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
