import { randomBytes } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { connectRedis, loadRedisClass, parseRedisUrl, RedisError, redisOptions, type RedisConnection, type RedisFailure } from '../../../agent/kit/redis.js';
import { execFile } from '../../../agent/kit/exec.js';
import { execPrefix, throughPrefix } from '../../../agent/kit/exec-prefix.js';
import { redactUrl, withoutPassword } from '../../../agent/kit/redact-url.js';
import { checkRedisTls, redisSentinel, redisTls, redisUrl } from '../../../agent/kit/redis-schema.js';
import { tlsConnectOptions } from '../../../agent/kit/tls.js';
import { failure, networkReason, toolReason } from '../classify.js';
import { commonProbeFields, type CheckOutcome, type Checker, type Reason } from './kind.js';
import { parseInfo, redisFacts, type RedisFacts } from '../redis-info.js';
import { resolveMaster, SentinelError, type MasterAddress } from '../redis-sentinel.js';

/** How long the round-trip key may outlive a check that died half-way. */
const ROUND_TRIP_TTL_MS = 60_000;

export const redisProbeConfig = z
  .strictObject({
    ...commonProbeFields,
    type: z.literal('redis').meta({ description: 'redis: PING, INFO and optionally a write round trip' }),
    url: redisUrl('redis://[user:password@]host:port[/db], or rediss:// for TLS'),
    tls: redisTls(),
    roundTrip: z.boolean().default(true).meta({ description: 'SET/GET/DEL a short-lived key, proving the server accepts writes (skipped on replicas)' }),
    keyPrefix: z.string().min(1).default('caretaker:probe:').meta({ description: 'namespace of the round-trip key; the probe name is appended' }),
    sentinel: redisSentinel().optional().meta({ description: "ask these sentinels for the master's address; the url then gives only scheme, user, password and db" }),
    exec: execPrefix('redis-cli is').optional(),
  })
  .superRefine((probe, ctx) => {
    checkRedisTls(probe, ctx);
    if (!probe.exec) return;
    if (probe.sentinel) ctx.addIssue({ code: 'custom', path: ['sentinel'], message: 'redis-cli run through exec asks the url\'s server only: leave sentinel out with exec' });
    if (probe.tls) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'redis-cli run through exec uses its own TLS defaults for a rediss:// url: leave the tls block out with exec' });
  });
export type RedisProbeConfig = z.output<typeof redisProbeConfig>;

export function redisTarget(config: RedisProbeConfig): string {
  return config.sentinel ? `sentinel ${config.sentinel.master} (${config.sentinel.addresses.join(', ')})` : redactUrl(config.url);
}

/** The server answered, but not what the round trip wrote: a query failure, the connection stays. */
class UnexpectedReplyError extends Error {}

/** A reply the server sent as an error (redis-errors' ReplyError, told by name so no ioredis is needed), or ours. */
function isReplyError(err: unknown): boolean {
  return err instanceof UnexpectedReplyError || (err instanceof Error && err.name === 'ReplyError');
}

/** The kit's connection failures keep the reasons probes always had; `not_redis` is a server that answered nonsense. */
const REASON_BY_FAILURE: Record<Exclude<RedisFailure, 'reply'>, Reason> = {
  refused: 'refused',
  dns: 'dns',
  timeout: 'timeout',
  auth: 'auth',
  tls: 'tls',
  not_redis: 'query',
};

export function redisReason(err: unknown): Reason | undefined {
  if (err instanceof SentinelError) return sentinelReason(err);
  if (err instanceof RedisError && err.failure !== 'reply') return REASON_BY_FAILURE[err.failure];
  if (!(err instanceof Error)) return undefined;
  if (/^(NOAUTH|WRONGPASS|NOPERM)|invalid (username-)?password/i.test(err.message)) return 'auth';
  if (isReplyError(err) || err instanceof RedisError) return /^ERR unknown command/i.test(err.message) ? 'unsupported' : 'query';
  if (/command timed out/i.test(err.message)) return 'timeout';
  if (/stream isn't writeable|connection is closed/i.test(err.message)) return 'refused';
  return undefined;
}

/** A sentinel that answered (wrong password, unknown master) says more about the setup than one that could not be reached. */
function sentinelReason(err: SentinelError): Reason {
  const reasons = err.errors.map((inner: unknown) => redisReason(inner) ?? networkReason(inner) ?? 'query');
  return reasons.find((reason) => reason === 'auth' || reason === 'query' || reason === 'unsupported') ?? reasons[0] ?? 'query';
}

/** The probe's TLS settings for `host` (the url's, or the master a sentinel named); none for redis://. */
async function probeTls(config: RedisProbeConfig, host: string): Promise<ConnectionOptions | undefined> {
  return config.url.startsWith('rediss:') ? tlsConnectOptions(config.tls ?? { verify: true }, host) : undefined;
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
 * Through an exec prefix (a server in a container, no published port): redis-cli next to it answers PING and
 * INFO from one stdin, and the round trip from a second. redis-cli exits 0 on an error reply, so its first
 * line is what tells. The password goes in REDISCLI_AUTH, never on a command line.
 */
function createRedisExecChecker(config: RedisProbeConfig, exec: readonly string[], timeoutMs: number): Checker {
  const { url, password } = withoutPassword(config.url);
  const env: NodeJS.ProcessEnv = password ? { ...process.env, REDISCLI_AUTH: password } : process.env;
  const argv = throughPrefix(exec, 'redis-cli', ['--no-auth-warning', '-u', url]);
  const run = async (input: string, signal: AbortSignal): Promise<string[]> => {
    const { stdout } = await execFile(...argv, { env, input, signal, timeoutMs, maxOutputBytes: 64 * 1024 });
    return stdout.split('\n').map((line) => line.replace(/\r$/, ''));
  };
  return {
    async check(signal) {
      try {
        const [pong = '', ...info] = await run('PING\nINFO\n', signal);
        if (pong !== 'PONG') return failure(new Error(pong || 'redis-cli printed nothing'), redisReason, 'query');
        const facts = redisFacts(parseInfo(info.join('\n')));
        const wrote = config.roundTrip && facts.role !== 'slave';
        if (wrote) {
          const key = JSON.stringify(`${config.keyPrefix}${config.name}`);
          const value = randomBytes(8).toString('hex');
          const [set, read] = await run(`SET ${key} ${value} PX ${ROUND_TRIP_TTL_MS}\nGET ${key}\nDEL ${key}\n`, signal);
          if (set !== 'OK') return failure(new Error(set ?? 'no answer to SET'), redisReason, 'query');
          if (read !== value) return { ok: false, reason: 'query', message: `round trip read back ${JSON.stringify(read)} instead of the value written` };
        }
        const details = { version: facts.version ?? null, role: facts.role ?? null, roundTrip: config.roundTrip ? (wrote ? 'ok' : 'skipped on a replica') : 'off' };
        return { ok: true, reason: 'ok', message: `${facts.role ?? 'server'} answered${wrote ? ', round trip ok' : ''}`, series: factSeries(facts), details };
      } catch (err) {
        return failure(err, toolReason);
      }
    },
    async close() {},
  };
}

/**
 * One ioredis connection kept between checks. It never reconnects on its own: a broken or timed-out
 * connection is dropped and the next check opens a new one, so a probe holds at most one connection.
 */
export function createRedisChecker(config: RedisProbeConfig, timeoutMs: number): Checker {
  if (config.exec) return createRedisExecChecker(config, config.exec, timeoutMs);
  const url = new URL(config.url);
  const timeouts = { connectTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs };
  let connection: RedisConnection | undefined;
  /** The url `connection` was opened with: with sentinels, the master's address can change between checks. */
  let connectionUrl: string | undefined;

  /** Drops the kept connection, or only `which` when given, so a late-failing old check cannot drop a newer one. */
  const drop = (which?: RedisConnection) => {
    if (!connection || (which && which !== connection)) return;
    connection.close();
    connection = undefined;
  };

  const connected = async (signal: AbortSignal): Promise<RedisConnection> => {
    const RedisClient = await loadRedisClass();
    // The sentinels are asked at every check: after a failover the old master may answer as a master for
    // seconds, and only the sentinels know it no longer is one.
    const master = config.sentinel
      ? await resolveMaster(
          config.sentinel,
          (host, port, password) => new RedisClient(redisOptions({ host, port, ...(password === undefined ? {} : { password }) }, timeouts)),
          signal,
        )
      : undefined;
    const target = master ? urlAt(url, master) : config.url;
    if (connection?.client.status === 'ready' && connectionUrl === target) return connection;
    drop();
    const tls = await probeTls(config, master?.host ?? url.hostname);
    // The kit says why a connection failed (refused, WRONGPASS, not Redis, TLS on one side only) instead of
    // the "Connection is closed." ioredis gives its commands.
    const fresh = await connectRedis(parseRedisUrl(target, tls), timeouts, signal);
    connection = fresh;
    connectionUrl = target;
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
      let current: RedisConnection | undefined;
      try {
        current = await connected(signal);
        const redis = current.client;
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
        const cause = isReplyError(err) || !current ? err : current.explain(err);
        if (current && (!isReplyError(err) || redisReason(err) === 'auth')) drop(current);
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
