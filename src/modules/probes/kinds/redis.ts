import { randomBytes } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { z } from 'zod';
import { parseListen } from '../../../agent/kit/schema.js';
import { failure } from '../classify.js';
import { commonProbeFields, redactUrl, tlsClientSchema, validUrl, type CheckOutcome, type Checker, type Reason } from '../kind.js';
import { tlsOptions } from '../tls-options.js';
import { parseInfo, redisFacts, type RedisFacts } from './redis-info.js';

/** How long the round-trip key may outlive a check that died half-way. */
const ROUND_TRIP_TTL_MS = 60_000;

const hostPort = z.string().refine((text) => parseListen(text)?.kind === 'tcp', { error: 'expected host:port' });

export const redisProbeConfig = z
  .strictObject({
    ...commonProbeFields,
    type: z.literal('redis'),
    /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
    url: validUrl(['redis', 'rediss']),
    /** TLS settings for `rediss://` (custom CA, verification, server name). */
    tls: tlsClientSchema.optional(),
    /** SET/GET/DEL a short-lived key, proving the server accepts writes (skipped on replicas). */
    roundTrip: z.boolean().default(true),
    /** Namespace of the round-trip key; the probe name is appended. */
    keyPrefix: z.string().min(1).default('caretaker:probe:'),
    /** Ask these sentinels for the master instead of connecting to the URL's host. */
    sentinel: z
      .strictObject({
        master: z.string().min(1),
        addresses: z.array(hostPort).min(1),
        password: z.string().optional(),
      })
      .optional(),
  })
  .superRefine((probe, ctx) => {
    if (probe.tls !== undefined && !probe.url.startsWith('rediss:')) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls settings need a rediss:// url' });
    }
  });
export type RedisProbeConfig = z.output<typeof redisProbeConfig>;

export function redisTarget(config: RedisProbeConfig): string {
  return config.sentinel ? `sentinel ${config.sentinel.master} (${config.sentinel.addresses.join(', ')})` : redactUrl(config.url);
}

/**
 * The Redis client class, loaded by the first redis check so an agent without redis probes never pays
 * for it. ioredis is CommonJS: the bundle gives a lazily imported CommonJS package only its `default`
 * (module.exports), so the class is read from there, where Node has it too.
 */
async function loadRedisClass(): Promise<typeof Redis> {
  return (await import('ioredis')).default.Redis;
}

/** The server answered, but not what the round trip wrote: a query failure, the connection stays. */
class UnexpectedReplyError extends Error {}

/** A reply the server sent as an error (redis-errors' ReplyError, told by name so no ioredis is needed), or ours. */
function isReplyError(err: unknown): boolean {
  return err instanceof UnexpectedReplyError || (err instanceof Error && err.name === 'ReplyError');
}

export function redisReason(err: unknown): Reason | undefined {
  if (!(err instanceof Error)) return undefined;
  if (/^(NOAUTH|WRONGPASS|NOPERM)|invalid (username-)?password/i.test(err.message)) return 'auth';
  if (isReplyError(err)) return /^ERR unknown command/i.test(err.message) ? 'unsupported' : 'query';
  if (/command timed out/i.test(err.message)) return 'timeout';
  if (/stream isn't writeable|connection is closed/i.test(err.message)) return 'refused';
  return undefined;
}

async function clientOptions(config: RedisProbeConfig, timeoutMs: number, host: string): Promise<RedisOptions> {
  const options: RedisOptions = {
    lazyConnect: true,
    // Fail fast instead of queueing or retrying in the background: the next check is the retry.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    autoResubscribe: false,
    // The probe's own INFO is the readiness check; ioredis' would double it.
    enableReadyCheck: false,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
  };
  if (config.url.startsWith('rediss:')) options.tls = await tlsOptions(config.tls ?? { verify: true }, host);
  if (config.sentinel) {
    options.sentinels = config.sentinel.addresses.map((text) => {
      const address = parseListen(text) as { host: string; port: number };
      return { host: address.host, port: address.port };
    });
    options.name = config.sentinel.master;
    if (config.sentinel.password !== undefined) options.sentinelPassword = config.sentinel.password;
    options.sentinelMaxConnections = 1;
    options.sentinelRetryStrategy = () => null;
  }
  return options;
}

function factSeries(facts: RedisFacts): CheckOutcome['series'] {
  const bool = (value: boolean | undefined) => (value === undefined ? undefined : value ? 1 : 0);
  const entries = {
    caretaker_probe_redis_connected_clients: facts.connectedClients,
    caretaker_probe_redis_used_memory_bytes: facts.usedMemoryBytes,
    caretaker_probe_redis_maxmemory_bytes: facts.maxmemoryBytes,
    caretaker_probe_redis_evicted_keys_total: facts.evictedKeys,
    caretaker_probe_redis_rejected_connections_total: facts.rejectedConnections,
    caretaker_probe_redis_connected_replicas: facts.connectedReplicas,
    caretaker_probe_redis_master_link_up: bool(facts.masterLinkUp),
    caretaker_probe_redis_replication_offset_lag_bytes: facts.replicationLagBytes,
    caretaker_probe_redis_rdb_last_bgsave_ok: bool(facts.lastRdbSaveOk),
  };
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined));
}

/**
 * One ioredis connection kept between checks. It never reconnects on its own: a broken or timed-out
 * connection is dropped and the next check opens a new one, so a probe holds at most one connection.
 */
export function createRedisChecker(config: RedisProbeConfig, timeoutMs: number): Checker {
  const url = new URL(config.url);
  let client: Redis | undefined;
  /** The kept connection's first socket-level error (refused, TLS, DNS): commands only say "Connection is closed". */
  let clientError: Error | undefined;

  /** Drops the kept connection, or only `which` when given, so a late-failing old check cannot drop a newer one. */
  const drop = (which?: Redis) => {
    if (!client || (which && which !== client)) return;
    client.disconnect();
    client = undefined;
  };

  const connected = async (signal: AbortSignal): Promise<Redis> => {
    if (client?.status === 'ready') return client;
    drop();
    const options = await clientOptions(config, timeoutMs, url.hostname);
    signal.throwIfAborted();
    const RedisClient = await loadRedisClass();
    const fresh = new RedisClient(config.url, options);
    clientError = undefined;
    // Without a listener ioredis would print these to stderr.
    fresh.on('error', (err: Error) => {
      if (client === fresh) clientError ??= err;
    });
    client = fresh;
    try {
      await fresh.connect();
    } catch (err) {
      drop(fresh);
      throw err;
    }
    return fresh;
  };

  const roundTrip = async (redis: Redis): Promise<void> => {
    const key = `${config.keyPrefix}${config.name}`;
    const value = randomBytes(8).toString('hex');
    await redis.set(key, value, 'PX', ROUND_TRIP_TTL_MS);
    const read = await redis.get(key);
    await redis.del(key);
    if (read !== value) throw new UnexpectedReplyError(`round trip read back ${JSON.stringify(read)} instead of the value written`);
  };

  return {
    async check(signal) {
      const onAbort = () => drop();
      signal.addEventListener('abort', onAbort, { once: true });
      let redis: Redis | undefined;
      try {
        redis = await connected(signal);
        const pong = await redis.ping();
        if (pong !== 'PONG') return { ok: false, reason: 'query', message: `PING answered ${JSON.stringify(pong)}` };
        const facts = redisFacts(parseInfo(await redis.info()));
        const wrote = config.roundTrip && facts.role !== 'slave';
        if (wrote) await roundTrip(redis);
        const details = {
          version: facts.version ?? null,
          role: facts.role ?? null,
          roundTrip: config.roundTrip ? (wrote ? 'ok' : 'skipped on a replica') : 'off',
        };
        return { ok: true, reason: 'ok', message: `${facts.role ?? 'server'} answered${wrote ? ', round trip ok' : ''}`, series: factSeries(facts), details };
      } catch (err) {
        // A server error on a live connection (a refused write, a renamed command) keeps it; anything else drops it.
        const cause = isReplyError(err) ? err : (clientError ?? err);
        if (redis && (!isReplyError(err) || redisReason(err) === 'auth')) drop(redis);
        return failure(cause, redisReason, 'query');
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    async close() {
      drop();
    },
  };
}
