import net from 'node:net';
import tls, { type ConnectionOptions } from 'node:tls';
import type { Redis, RedisOptions } from 'ioredis';
import { tlsConnectOptions, type TlsClientConfig } from './tls.js';

/** Where and how to reach one Redis server. */
export interface RedisTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** The database the URL's path names; undefined when it names none. */
  db?: number;
  /** Set for rediss:// URLs. */
  tls?: ConnectionOptions;
}

/** Bounds for one connection. */
export interface RedisTimeouts {
  /** Everything before the connection is usable: TCP connect, TLS handshake, AUTH, the first reply, SELECT. */
  connectTimeoutMs: number;
  /** Each command after that. */
  commandTimeoutMs: number;
}

/**
 * Why a Redis connection or command failed, as a fixed set callers can branch on (a probe's reason, a
 * backup's message); the error's message says it to a person.
 */
export type RedisFailure = 'refused' | 'dns' | 'timeout' | 'auth' | 'tls' | 'not_redis' | 'reply';

export class RedisError extends Error {
  readonly failure: RedisFailure;
  /** The underlying error's code (ECONNREFUSED, ETIMEDOUT…), kept for code-based classifiers. */
  readonly code: string | undefined;
  constructor(failure: RedisFailure, message: string, code?: string) {
    super(message);
    this.name = 'RedisError';
    this.failure = failure;
    this.code = code;
  }
}

/** A TLS handshake not done after this is checked for a plain Redis port behind it. */
const PLAIN_CHECK_AFTER_MS = 1_000;
/** The longest the protocol check after a failed handshake may take, within what is left of the budget. */
const DIAGNOSIS_MAX_MS = 2_000;

/** redis[s]://[user[:password]@]host[:port][/db] → a target; `tlsOptions` apply to rediss:// only. */
export function parseRedisUrl(text: string, tlsOptions: ConnectionOptions = {}): RedisTarget {
  const url = new URL(text);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('expected a redis:// or rediss:// URL');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const target: RedisTarget = { host, port: url.port ? Number(url.port) : 6379 };
  if (url.username) target.username = decodeURIComponent(url.username);
  if (url.password) target.password = decodeURIComponent(url.password);
  const path = url.pathname.replace(/^\//, '');
  if (path !== '') {
    // The value is not quoted: the whole URL may have come from a secret.
    if (!/^\d{1,9}$/.test(path)) throw new Error("a redis URL's path is a database number, as in redis://host:6379/5");
    target.db = Number(path);
  }
  // SNI must not carry an IP address (RFC 6066).
  if (url.protocol === 'rediss:') target.tls = { ...(net.isIP(host) ? {} : { servername: host }), ...tlsOptions };
  return target;
}

/** A URL and its `tls` block (kit/tls.ts) → where and how to connect; the block applies to rediss:// only, and reads its CA now. */
export async function redisTargetFor(url: string, tls: TlsClientConfig | undefined): Promise<RedisTarget> {
  const target = parseRedisUrl(url);
  if (target.tls) target.tls = await tlsConnectOptions(tls ?? { verify: true }, target.host);
  return target;
}

/** `host:port` as people write it, IPv6 in brackets. */
export function redisAddress(target: Pick<RedisTarget, 'host' | 'port'>): string {
  return `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
}

/** The ioredis class, loaded on first use so an agent without Redis work never pays for it. */
export async function loadRedisClass(): Promise<typeof Redis> {
  // ioredis is CommonJS: the bundle gives a lazily imported CommonJS package only its `default`.
  return (await import('ioredis')).default.Redis;
}

/**
 * ioredis options that fail fast: no offline queue, no retries, no reconnects (the caller's next run or
 * check is the retry). The database is selected by `connectRedis`, which checks that it exists.
 */
export function redisOptions(target: RedisTarget, timeouts: RedisTimeouts): RedisOptions {
  const options: RedisOptions = {
    host: target.host,
    port: target.port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    autoResubscribe: false,
    // connectRedis' PING is the readiness check; ioredis' INFO would need a command a locked-down server may refuse.
    enableReadyCheck: false,
    // ioredis ends its connect timeout at the TLS handshake's end, so for TLS it bounds the handshake too.
    connectTimeout: timeouts.connectTimeoutMs,
    commandTimeout: timeouts.commandTimeoutMs,
  };
  if (target.username) options.username = target.username;
  if (target.password) options.password = target.password;
  if (target.tls) options.tls = target.tls;
  return options;
}

/** One open connection; `explain` turns a later command failure into its real cause. */
export interface RedisConnection {
  readonly client: Redis;
  /**
   * A connection-level failure (closed, reset, timed out, garbage) as a RedisError naming the cause: ioredis
   * rejects commands with "Connection is closed." while the reason only reaches its error event. Anything
   * else (a server's error reply, the caller's own error) comes back as it was.
   */
  explain(err: unknown): unknown;
  close(): void;
}

/**
 * Connects, authenticates, checks that the server speaks Redis (PING) and selects the URL's database, all
 * within `connectTimeoutMs`. Rejects with a RedisError that names the cause: nothing listening, wrong or
 * missing password, not a Redis server, TLS on one side only, no answer in time, an unknown database.
 */
export async function connectRedis(target: RedisTarget, timeouts: RedisTimeouts, signal?: AbortSignal): Promise<RedisConnection> {
  signal?.throwIfAborted();
  const RedisClass = await loadRedisClass();
  const started = Date.now();
  const budget = timeouts.connectTimeoutMs;
  const left = () => budget - (Date.now() - started);
  const client = new RedisClass(redisOptions(target, timeouts));
  let firstError: Error | undefined;
  client.on('error', (err: Error) => {
    firstError ??= err;
  });
  // ioredis says `connect` once the socket (and TLS) is up, before AUTH.
  let socketUp = false;
  client.once('connect', () => {
    socketUp = true;
  });
  const rootOf = (err: unknown): unknown => (firstError && isClosedMessage(err) ? firstError : err);
  const connection: RedisConnection = {
    client,
    explain: (err) => {
      const root = rootOf(err);
      const explained = explainRedisError(root, target);
      return explained.failure === 'reply' && root === err ? err : explained;
    },
    close: () => client.disconnect(),
  };

  const timers: NodeJS.Timeout[] = [];
  // Ends the protocol checks with the connect, whichever way it goes.
  const checks = new AbortController();
  const deadline = new Promise<never>((_, reject) => {
    timers.push(setTimeout(() => reject(handshakeTimeout(target, budget, socketUp)), budget));
  });
  const racers = [handshake(client, target), deadline];
  if (target.tls) {
    // A plain Redis port sits silent on a TLS hello until the timeout; a handshake that is slow to finish is
    // checked for that early, at the cost of one extra connection only when it is slow.
    racers.push(
      new Promise<never>((_, reject) => {
        const check = async () => {
          if (!socketUp && (await answersPlainRedis(target, left(), checks.signal))) reject(plainNotTls(target));
        };
        timers.push(setTimeout(() => void check(), Math.min(PLAIN_CHECK_AFTER_MS, budget / 2)));
      }),
    );
  }
  const onAbort = () => {
    checks.abort();
    client.disconnect();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race(racers);
    return connection;
  } catch (err) {
    for (const timer of timers) clearTimeout(timer);
    client.disconnect();
    if (signal?.aborted) throw signal.reason;
    if (err instanceof RedisError) throw err;
    const explained = explainRedisError(rootOf(err), target);
    const diagnosed = await withOtherProtocol(explained, target, Math.min(DIAGNOSIS_MAX_MS, left()), checks.signal);
    if (signal?.aborted) throw signal.reason;
    throw diagnosed;
  } finally {
    for (const timer of timers) clearTimeout(timer);
    checks.abort();
    signal?.removeEventListener('abort', onAbort);
  }
}

function handshakeTimeout(target: RedisTarget, ms: number, socketUp: boolean): RedisError {
  const where = redisAddress(target);
  if (socketUp) return new RedisError('timeout', `connected to ${where}, but no Redis reply within ${ms} ms (a hung server, or not a Redis port)`, 'ETIMEDOUT');
  const what = target.tls ? `no TLS handshake with ${where}` : `could not connect to ${where}`;
  return new RedisError('timeout', `${what} within ${ms} ms (a filtered port, a host that is down, or a hung server)`, 'ETIMEDOUT');
}

function plainNotTls(target: RedisTarget): RedisError {
  return new RedisError('tls', `${redisAddress(target)} answers plain Redis, not TLS: use redis:// (or the server's tls-port)`);
}

async function handshake(client: Redis, target: RedisTarget): Promise<void> {
  await client.connect();
  // With the ready check off, connect() resolves before AUTH is answered: PING's reply proves the server speaks
  // Redis and took the password. A server that renamed PING away still answered as Redis.
  await client.ping().catch((err: unknown) => {
    if (!isReplyError(err) || isAuthReply(err as Error)) throw err;
  });
  if (target.db !== undefined && target.db !== 0) {
    try {
      await client.select(target.db);
    } catch (err) {
      if (!isReplyError(err)) throw err;
      throw new RedisError('reply', `${(err as Error).message} (${redisAddress(target)} has no database ${target.db}: see its 'databases' setting)`);
    }
  }
}

function isClosedMessage(err: unknown): boolean {
  return err instanceof Error && /^(Connection is closed|Stream isn't writeable)/.test(err.message);
}

/** A reply the server sent as an error (redis-errors' ReplyError, told by name so ioredis need not be loaded). */
function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

function isAuthReply(err: Error): boolean {
  return /^(NOAUTH|WRONGPASS|NOPERM)|invalid (username-)?password/i.test(err.message);
}

const CONNECT_CODES: Record<string, RedisFailure> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'refused',
  EPIPE: 'refused',
  EHOSTUNREACH: 'refused',
  ENETUNREACH: 'refused',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  ETIMEDOUT: 'timeout',
};

/** What the server sent from where the parser gave up: redis-parser keeps its buffer as `JSON.stringify(Buffer)`. */
function unparsedBytes(err: Error): Buffer {
  const { buffer, offset } = err as Error & { buffer?: unknown; offset?: unknown };
  try {
    const data = (JSON.parse(String(buffer)) as { data?: unknown }).data;
    const bytes = Array.isArray(data) ? Buffer.from(data as number[]) : Buffer.alloc(0);
    // `offset` is just past the reply-type byte it could not read.
    return bytes.subarray(typeof offset === 'number' && offset > 0 && offset <= bytes.length ? offset - 1 : 0);
  } catch {
    return Buffer.alloc(0);
  }
}

/** A reply's first line, printable and short, for "it answered …". */
function quoteBytes(bytes: Buffer): string {
  const text = bytes.subarray(0, 60).toString('latin1').split(/\r?\n/)[0] ?? '';
  return JSON.stringify(text.replace(/[^\x20-\x7e]/g, '.'));
}

/**
 * The cause of a Redis failure as a RedisError; the underlying message is kept at the front so the server's
 * own words (WRONGPASS…) and the system's (ECONNREFUSED…) stay greppable.
 */
function explainRedisError(err: unknown, target: Pick<RedisTarget, 'host' | 'port' | 'tls'>): RedisError {
  if (err instanceof RedisError) return err;
  const where = redisAddress(target);
  if (!(err instanceof Error)) return new RedisError('reply', String(err));
  const code = (err as NodeJS.ErrnoException).code;
  if (isReplyError(err)) {
    if (/^NOAUTH/.test(err.message)) return new RedisError('auth', `${err.message} (${where} needs a password: redis://:PASSWORD@${where})`);
    if (isAuthReply(err)) return new RedisError('auth', `${err.message} (${where} refused the user or password in the URL, or its ACL forbids the command)`);
    return new RedisError('reply', err.message);
  }
  if (err.name === 'ParserError') {
    const buffer = unparsedBytes(err);
    // 0x15 is a TLS alert record, 0x16 a handshake record.
    if (buffer[0] === 0x15 || buffer[0] === 0x16) return new RedisError('tls', `${where} speaks TLS: use rediss://`);
    return new RedisError('not_redis', `${where} is not a Redis server: it answered ${quoteBytes(buffer)}`);
  }
  if (code && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO' || /CERT|SELF_SIGNED|UNABLE_TO/.test(code))) {
    return new RedisError('tls', `${err.message} (TLS with ${where} failed: check the CA, the server name and that the port speaks TLS)`, code);
  }
  if (/certificate|ssl|tls/i.test(err.message)) return new RedisError('tls', err.message, code);
  const failure = code ? CONNECT_CODES[code] : undefined;
  if (failure === 'refused' && code === 'ECONNREFUSED') return new RedisError('refused', `${err.message} (nothing listens on ${where}: is redis-server running on that port?)`, code);
  if (failure === 'refused') return new RedisError('refused', `${err.message} (${where} closed the connection)`, code);
  if (failure === 'dns') return new RedisError('dns', `${err.message} (the host name '${target.host}' does not resolve)`, code);
  if (failure === 'timeout') {
    const what = target.tls ? 'no TLS handshake' : 'could not connect';
    return new RedisError('timeout', `${err.message} (${what} with ${where} in time: a filtered port, a host that is down, or a hung server)`, code);
  }
  if (/command timed out/i.test(err.message)) return new RedisError('timeout', `${err.message} (${where} did not answer in time)`, code);
  // ioredis' own words here ("Connection is closed.", "Stream isn't writeable…") say nothing a person can use.
  if (isClosedMessage(err)) return new RedisError('refused', `${where} closed the connection`, code);
  return new RedisError('reply', err.message, code);
}

/**
 * A handshake that timed out over TLS, or a plain connection the server reset, most often means the port
 * speaks the other protocol; asking it in that protocol (bounded by `ms`) turns a timeout into "use redis://".
 */
async function withOtherProtocol(explained: RedisError, target: RedisTarget, ms: number, signal: AbortSignal): Promise<RedisError> {
  if (ms <= 0) return explained;
  if (target.tls && (explained.failure === 'timeout' || explained.failure === 'tls')) {
    if (await answersPlainRedis(target, ms, signal)) return plainNotTls(target);
  } else if (!target.tls && explained.failure === 'refused' && explained.code !== 'ECONNREFUSED') {
    if (await completesTls(target, ms, signal)) return new RedisError('tls', `${redisAddress(target)} speaks TLS: use rediss://`, explained.code);
  }
  return explained;
}

function probeSocket(socket: net.Socket, ms: number, signal: AbortSignal, onReady: (settle: (yes: boolean) => void) => void): Promise<boolean> {
  return new Promise((resolve) => {
    const settle = (yes: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', no);
      socket.destroy();
      resolve(yes);
    };
    const no = () => settle(false);
    const timer = setTimeout(no, ms);
    if (signal.aborted) return settle(false);
    signal.addEventListener('abort', no, { once: true });
    socket.once('error', no);
    socket.once('close', no);
    onReady(settle);
  });
}

/** An inline PING on a plain socket: any `+` or `-` reply is Redis talking. */
function answersPlainRedis(target: RedisTarget, ms: number, signal: AbortSignal): Promise<boolean> {
  const socket = net.connect({ host: target.host, port: target.port });
  return probeSocket(socket, ms, signal, (settle) => {
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk: Buffer) => settle(chunk[0] === 0x2b || chunk[0] === 0x2d));
  });
}

/** A TLS handshake that completes, whatever the certificate: the port speaks TLS. */
function completesTls(target: RedisTarget, ms: number, signal: AbortSignal): Promise<boolean> {
  const servername = net.isIP(target.host) ? undefined : target.host;
  const socket = tls.connect({ host: target.host, port: target.port, rejectUnauthorized: false, ...(servername ? { servername } : {}) });
  return probeSocket(socket, ms, signal, (settle) => socket.once('secureConnect', () => settle(true)));
}
