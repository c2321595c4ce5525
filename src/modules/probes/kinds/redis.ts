import { randomBytes } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { z } from 'zod';
import { failure, networkReason } from '../classify.js';
import { commonProbeFields, redactUrl, tlsClientSchema, validUrl, type CheckOutcome, type Checker, type Reason } from '../kind.js';
import { tlsOptions } from '../tls-options.js';
import { parseInfo, redisFacts, type RedisFacts } from './redis-info.js';
import { resolveMaster, SentinelError, sentinelConfig, type MasterAddress } from './redis-sentinel.js';

/** How long the round-trip key may outlive a check that died half-way. */
const ROUND_TRIP_TTL_MS = 60_000;

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
    /** Ask these sentinels for the master's address; the url then gives only scheme, user, password and db. */
    sentinel: sentinelConfig.optional(),
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
  if (err instanceof SentinelError) return sentinelReason(err);
  if (!(err instanceof Error)) return undefined;
  if (/^(NOAUTH|WRONGPASS|NOPERM)|invalid (username-)?password/i.test(err.message)) return 'auth';
  if (isReplyError(err)) return /^ERR unknown command/i.test(err.message) ? 'unsupported' : 'query';
  if (/command timed out/i.test(err.message)) return 'timeout';
  if (/stream isn't writeable|connection is closed/i.test(err.message)) return 'refused';
  return undefined;
}

/** A sentinel that answered (wrong password, unknown master) says more about the setup than one that could not be reached. */
function sentinelReason(err: SentinelError): Reason {
  const reasons = err.errors.map((inner: unknown) => redisReason(inner) ?? networkReason(inner) ?? 'query');
  return reasons.find((reason) => reason === 'auth' || reason === 'query' || reason === 'unsupported') ?? reasons[0] ?? 'query';
}

function connectionOptions(timeoutMs: number): RedisOptions {
  return {
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
}

async function clientOptions(config: RedisProbeConfig, timeoutMs: number, host: string): Promise<RedisOptions> {
  const options = connectionOptions(timeoutMs);
  if (config.url.startsWith('rediss:')) options.tls = await tlsOptions(config.tls ?? { verify: true }, host);
  return options;
}

/** The probe's url pointed at the master a sentinel named, keeping its scheme, user, password and db. */
function urlAt(url: URL, master: MasterAddress): string {
  const moved = new URL(url);
  moved.hostname = master.host.includes(':') ? `[${master.host}]` : master.host;
  moved.port = String(master.port);
  return moved.toString();
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
  /** The url `client` was opened with: with sentinels, the master's address can change between checks. */
  let clientUrl: string | undefined;
  /** The kept connection's first socket-level error (refused, TLS, DNS): commands only say "Connection is closed". */
  let clientError: Error | undefined;

  /** Drops the kept connection, or only `which` when given, so a late-failing old check cannot drop a newer one. */
  const drop = (which?: Redis) => {
    if (!client || (which && which !== client)) return;
    client.disconnect();
    client = undefined;
  };

  const connected = async (signal: AbortSignal): Promise<Redis> => {
    // Errors from here on belong to this check, not to a connection an earlier one lost.
    clientError = undefined;
    const RedisClient = await loadRedisClass();
    // The sentinels are asked at every check: after a failover the old master may answer as a master for
    // seconds, and only the sentinels know it no longer is one.
    const master = config.sentinel
      ? await resolveMaster(config.sentinel, (host, port, password) => new RedisClient({ ...connectionOptions(timeoutMs), host, port, password }), signal)
      : undefined;
    const target = master ? urlAt(url, master) : config.url;
    if (client?.status === 'ready' && clientUrl === target) return client;
    drop();
    const options = await clientOptions(config, timeoutMs, master?.host ?? url.hostname);
    signal.throwIfAborted();
    const fresh = new RedisClient(target, options);
    // Without a listener ioredis would print these to stderr.
    fresh.on('error', (err: Error) => {
      if (client === fresh) clientError ??= err;
    });
    client = fresh;
    clientUrl = target;
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
