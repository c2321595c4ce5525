import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';

/** Bounds on what one client can hold of a listener; every request these listeners take is small. */
export interface ListenerLimits {
  /** The request line and headers must arrive within this (also bounds a connection that sends nothing). */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this; a trickled body is cut off with 408. */
  requestTimeoutMs: number;
  /** A connection with no traffic is closed after this, unless its request is still being handled. */
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Request line plus headers (node's default, written down so messages can say it). */
  maxHeaderBytes: number;
  /** Connections past this are closed on arrival, so slow clients cannot exhaust descriptors or memory. */
  maxConnections: number;
}

export const LISTENER_LIMITS: ListenerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 16 * 1024,
  maxConnections: 4096,
};

// Node checks the header and request deadlines on this period (30 s by default), so it is the slack on them.
const DEADLINE_CHECK_MS = 1_000;
// One warning per episode of dropped connections, not one per connection.
const DROP_LOG_INTERVAL_MS = 60_000;

/** Options for http(s).createServer that enforce the deadlines. */
export function serverOptions(limits: ListenerLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    connectionsCheckingInterval: DEADLINE_CHECK_MS,
  };
}

/**
 * The connection cap and the idle timeout. A socket whose handler has not answered yet is spared by
 * the idle timeout: a certificate renewal may run for minutes with no traffic, bounded by its own
 * deadline. A client that stops reading an answer is not. Slow request bodies are the request timeout's job.
 */
export function limitConnections(server: Server, limits: ListenerLimits, log: Logger): void {
  server.maxConnections = limits.maxConnections;
  const answering = new WeakMap<Socket, ServerResponse>();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => answering.set(request.socket, response));
  server.setTimeout(limits.idleTimeoutMs);
  server.on('timeout', (socket: Socket) => {
    if (answering.get(socket)?.writableEnded === false) return;
    socket.destroy();
  });
  let dropped = 0;
  let loggedAt = -Infinity;
  server.on('drop', () => {
    dropped += 1;
    if (performance.now() - loggedAt < DROP_LOG_INTERVAL_MS) return;
    log.warn({ maxConnections: limits.maxConnections, dropped }, 'connection limit reached; refusing new connections');
    loggedAt = performance.now();
    dropped = 0;
  });
}
