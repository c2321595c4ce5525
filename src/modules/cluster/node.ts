import { performance } from 'node:perf_hooks';
import type { Redis, RedisOptions } from 'ioredis';
import { LeaseLostError, type ClusterService, type Lease, type LeaseHolder } from '../../agent/kit/cluster.js';
import { describeError } from '../../agent/kit/errors.js';
import type { ModuleContext, ModuleHealth, ModuleInstance } from '../../agent/kit/module.js';
import { loadRedisClass, redisOptions, redisTargetFor } from '../../agent/kit/redis.js';
import { redactUrl } from '../../agent/kit/redact-url.js';
import type { SentinelConfig } from '../../agent/kit/redis-schema.js';
import { parseListen } from '../../agent/kit/schema.js';
import type { ClusterAnswer } from './answers.js';
import type { ClusterConfig } from './config.js';
import { HeldLease } from './lease.js';
import type { ClusterMetrics } from './metrics.js';
import { ACQUIRE, FENCED_WRITE, RELEASE, RENEW } from './scripts.js';
import { Sealer } from './seal.js';

/** A node not seen for this many TTLs is left out of the list (and pruned from it). */
const NODE_FORGET_TTLS = 20;
const UNREACHABLE_KEY = 'cluster:redis:unreachable';

type ScriptName = 'ctAcquire' | 'ctRenew' | 'ctRelease' | 'ctWrite';
type ScriptClient = Redis & Record<ScriptName, (...args: Array<string | number | Buffer>) => Promise<unknown>>;

/** ioredis asks the sentinels for the master and, after a failover, reconnects to the new one. */
function sentinelOptions(sentinel: SentinelConfig, tls: boolean): RedisOptions {
  return {
    sentinels: sentinel.addresses.map((address) => parseListen(address) as { host: string; port: number }),
    name: sentinel.master,
    ...(sentinel.password ? { sentinelPassword: sentinel.password } : {}),
    sentinelRetryStrategy: (attempt: number) => Math.min(250 * attempt, 2000),
    // rediss:// means TLS to the master; the sentinels themselves are asked in plain text, as probes do.
    ...(tls ? { enableTLSForSentinelMode: true } : {}),
  };
}

function parseLeaseValue(value: string): { token: number; node: string } {
  const space = value.indexOf(' ');
  return { token: Number(value.slice(0, space)), node: value.slice(space + 1) };
}

/**
 * This node's membership in the cluster: one Redis connection for commands and one for announcements, a
 * heartbeat (one command per lease TTL), leases with fencing and fenced shared state (scripts.ts). It is
 * what `ctx.cluster` gives the other modules.
 */
export class ClusterNode implements ModuleInstance<ClusterConfig>, ClusterService {
  private config: ClusterConfig;
  private client: ScriptClient | undefined;
  private subscriber: Redis | undefined;
  private up = false;
  private lastError: string | undefined;
  private downSince: number | undefined;
  private sealer: Sealer;
  private readonly held = new Map<string, HeldLease>();
  private readonly watchers = new Map<string, Set<(message: string) => void>>();

  constructor(
    private readonly ctx: ModuleContext,
    config: ClusterConfig,
    private readonly metrics: ClusterMetrics,
  ) {
    this.config = config;
    this.sealer = new Sealer(config.encryptionKey, config.name);
  }

  get node(): string {
    return this.config.node;
  }

  get name(): string {
    return this.config.name;
  }

  get leaseTtlMs(): number {
    return this.config.leaseTtl;
  }

  async start(): Promise<void> {
    await this.open();
    this.ctx.schedule({ name: 'cluster:heartbeat', everyMs: this.config.leaseTtl, runAtStart: true }, () => this.beat());
    this.ctx.clusterProvider?.provide(this);
    this.ctx.log.info({ cluster: this.config.name, node: this.config.node, redis: redactUrl(this.config.redis) }, 'cluster node started');
  }

  async reload(next: ClusterConfig): Promise<void> {
    const connection = (c: ClusterConfig) => JSON.stringify([c.redis, c.tls, c.sentinel, c.name, c.node]);
    const reconnect = connection(next) !== connection(this.config);
    if (reconnect) {
      // Another Redis, cluster or node name: what this node held is not held under the new one.
      for (const lease of [...this.held.values()]) lease.lose('the cluster settings changed');
      this.close();
    }
    this.config = next;
    this.sealer = new Sealer(next.encryptionKey, next.name);
    if (reconnect) await this.open();
  }

  async stop(): Promise<void> {
    this.ctx.clusterProvider?.provide(undefined);
    await Promise.all([...this.held.values()].map((lease) => lease.release()));
    this.close();
  }

  health(): ModuleHealth {
    const check = { name: 'redis', ok: this.up, critical: false };
    if (this.up) return { status: 'ok', checks: [check] };
    const message = `cluster Redis unreachable: ${this.lastError ?? 'not connected yet'}`;
    return { status: 'degraded', message, checks: [{ ...check, message }] };
  }

  status(): unknown {
    return { name: this.config.name, node: this.config.node, reachable: this.up, held: [...this.held.keys()] };
  }

  reachable(): boolean {
    return this.up;
  }

  async acquire(name: string): Promise<{ lease: Lease } | { holder: LeaseHolder | null }> {
    const existing = this.held.get(name);
    if (existing && !existing.signal.aborted) throw new Error(`lease ${name} is already held by this node`);
    const sentAt = performance.now();
    const reply = (await this.run((c) => c.ctAcquire(this.key(`lease:${name}`), this.key(`fence:${name}`), this.config.node, this.config.leaseTtl))) as [number, number | string, number?];
    if (reply[0] !== 1) {
      const { token, node } = parseLeaseValue(String(reply[1]));
      return { holder: { node, token, expiresInMs: Number(reply[2] ?? 0) } };
    }
    const token = Number(reply[1]);
    const lease = new HeldLease(name, token, `${token} ${this.config.node}`, sentAt, this.config.leaseTtl, this.leaseCommands(), (ended, lost) => this.ended(ended, lost));
    this.held.set(name, lease);
    this.metrics.leaseHeld.set({ lease: name }, 1);
    this.metrics.acquisitions.inc({ lease: name });
    this.ctx.conditions.resolve(this.lostKey(name));
    this.ctx.log.info({ lease: name, token }, 'lease taken');
    return { lease };
  }

  async holder(name: string): Promise<LeaseHolder | null> {
    const [value, ttl] = await this.run(async (c) => Promise.all([c.get(this.key(`lease:${name}`)), c.pttl(this.key(`lease:${name}`))]));
    if (value === null) return null;
    return { ...parseLeaseValue(value), expiresInMs: Math.max(0, ttl) };
  }

  async read(key: string): Promise<Buffer | null> {
    return this.run((c) => c.hgetBuffer(this.key(`state:${key}`), 'v'));
  }

  async write(key: string, value: Buffer | string, lease: Lease, ttlMs = 0): Promise<void> {
    const held = this.held.get(lease.name);
    if (held !== lease) throw new LeaseLostError(lease.name, 'not held by this node');
    lease.check();
    const result = Number(await this.run((c) => c.ctWrite(this.key(`lease:${lease.name}`), this.key(`state:${key}`), held.value, lease.token, value, ttlMs)));
    if (result === 1) return;
    const why = result === 0 ? 'another node holds it now' : 'the value was written under a newer lease';
    held.lose(why);
    throw new LeaseLostError(lease.name, `write of ${key} refused: ${why}`);
  }

  seal(plain: Buffer): Buffer {
    return this.sealer.seal(plain);
  }

  unseal(sealed: Buffer): Buffer {
    return this.sealer.unseal(sealed);
  }

  async announce(topic: string, message: string): Promise<void> {
    await this.run((c) => c.publish(this.key(`topic:${topic}`), message));
  }

  watch(topic: string, listener: (message: string) => void): () => void {
    const listeners = this.watchers.get(topic) ?? new Set();
    listeners.add(listener);
    this.watchers.set(topic, listeners);
    return () => listeners.delete(listener);
  }

  /** `/cluster`: the nodes seen lately and every lease of this cluster, as Redis says now. */
  async answer(): Promise<ClusterAnswer> {
    const now = Date.now();
    const base = { name: this.config.name, node: this.config.node, leaseTtlSeconds: this.config.leaseTtl / 1000 };
    if (!this.client) return { ...base, reachable: false, error: this.lastError ?? 'not connected', nodes: [], leases: [] };
    try {
      const nodesKey = this.key('nodes');
      await this.run((c) => c.zremrangebyscore(nodesKey, '-inf', now - NODE_FORGET_TTLS * this.config.leaseTtl));
      const seen = await this.run((c) => c.zrange(nodesKey, 0, -1, 'WITHSCORES'));
      const nodes = [];
      for (let i = 0; i < seen.length; i += 2) nodes.push({ node: seen[i]!, lastSeenAt: new Date(Number(seen[i + 1])).toISOString() });
      const leases = [];
      const prefix = this.key('lease:');
      for (const key of await this.scan(`${prefix}*`)) {
        const name = key.slice(prefix.length);
        const holder = await this.holder(name);
        const fence = Number((await this.run((c) => c.get(this.key(`fence:${name}`)))) ?? 0);
        if (holder) leases.push({ name, holder: holder.node, token: holder.token, fence, expiresInMs: holder.expiresInMs, heldHere: this.held.has(name) });
      }
      leases.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return { ...base, reachable: true, error: null, nodes, leases };
    } catch (err) {
      return { ...base, reachable: false, error: describeError(err), nodes: [], leases: [] };
    }
  }

  private key(suffix: string): string {
    return `caretaker:${this.config.name}:${suffix}`;
  }

  private lostKey(lease: string): string {
    return `cluster:${lease}:lost`;
  }

  private async scan(pattern: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.run((c) => c.scan(cursor, 'MATCH', pattern, 'COUNT', 200));
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  }

  private leaseCommands() {
    return {
      renew: async (name: string, value: string, ttlMs: number) => Number(await this.run((c) => c.ctRenew(this.key(`lease:${name}`), value, ttlMs))) === 1,
      release: async (name: string, value: string) => {
        await this.run((c) => c.ctRelease(this.key(`lease:${name}`), value));
      },
    };
  }

  private ended(lease: HeldLease, lost: string | undefined): void {
    if (this.held.get(lease.name) === lease) this.held.delete(lease.name);
    this.metrics.leaseHeld.set({ lease: lease.name }, 0);
    if (lost === undefined) return;
    this.metrics.losses.inc({ lease: lease.name });
    this.ctx.log.warn({ lease: lease.name, token: lease.token, why: lost }, 'lease lost: its work is stopped');
    this.ctx.conditions.fire({ key: this.lostKey(lease.name), severity: 'warning', summary: `lease ${lease.name} lost`, detail: lost });
  }

  /** One command to Redis; its success or failure is what `reachable` says. */
  private async run<T>(command: (client: ScriptClient) => Promise<T>): Promise<T> {
    const client = this.client;
    if (!client) throw new Error('the cluster Redis is not connected');
    try {
      const result = await command(client);
      this.markUp();
      return result;
    } catch (err) {
      if (!(err instanceof Error && /^(ERR|WRONGTYPE|NOSCRIPT|NOPERM)/.test(err.message))) this.markDown(describeError(err));
      throw err;
    }
  }

  private async beat(): Promise<void> {
    try {
      await this.run((c) => c.zadd(this.key('nodes'), Date.now(), this.config.node));
    } catch {
      // markDown said it; the next beat tries again.
    }
  }

  private markUp(): void {
    this.metrics.redisUp.set(1);
    if (this.up) return;
    this.up = true;
    if (this.downSince !== undefined) this.ctx.log.info({ downMs: Math.round(performance.now() - this.downSince) }, 'cluster Redis reachable again');
    this.downSince = undefined;
    this.lastError = undefined;
    this.ctx.conditions.resolve(UNREACHABLE_KEY);
  }

  private markDown(error: string): void {
    this.metrics.redisUp.set(0);
    this.lastError = error;
    if (!this.up && this.downSince !== undefined) return;
    this.up = false;
    this.downSince = performance.now();
    this.ctx.log.warn({ err: error }, 'cluster Redis unreachable: no lease is taken until it answers again');
    this.ctx.conditions.fire({
      key: UNREACHABLE_KEY,
      severity: 'warning',
      summary: `cluster ${this.config.name}: Redis unreachable`,
      detail: `${error}; installed certificates keep being served, no node starts leader work`,
    });
  }

  private async open(): Promise<void> {
    const target = await redisTargetFor(this.config.redis, this.config.tls);
    const RedisClass = await loadRedisClass();
    const timeoutMs = Math.max(1000, Math.floor(this.config.leaseTtl / 3));
    const options: RedisOptions = {
      ...redisOptions(target, { connectTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs }),
      // Unlike a probe's one-shot connection, the cluster's stays: reconnect for as long as the node runs.
      retryStrategy: (attempt: number) => Math.min(250 * attempt, 2000),
      ...(target.db !== undefined ? { db: target.db } : {}),
      ...(this.config.sentinel ? sentinelOptions(this.config.sentinel, target.tls !== undefined) : {}),
    };
    const client = new RedisClass(options) as ScriptClient;
    client.defineCommand('ctAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    client.defineCommand('ctRenew', { numberOfKeys: 1, lua: RENEW });
    client.defineCommand('ctRelease', { numberOfKeys: 1, lua: RELEASE });
    client.defineCommand('ctWrite', { numberOfKeys: 2, lua: FENCED_WRITE });
    client.on('error', (err: Error) => this.markDown(describeError(err)));
    client.on('close', () => this.markDown(this.lastError ?? 'connection closed'));
    // The subscription waits in the offline queue until the first connection, and is renewed on each reconnect.
    // No command timeout there: ioredis' own resubscription after a reconnect would time out unobserved.
    const subscriber = new RedisClass({ ...options, commandTimeout: undefined, enableOfflineQueue: true, autoResubscribe: true });
    subscriber.on('error', () => undefined);
    const prefix = this.key('topic:');
    subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
      for (const listener of this.watchers.get(channel.slice(prefix.length)) ?? []) {
        try {
          listener(message);
        } catch (err) {
          this.ctx.log.error({ err: describeError(err) }, 'cluster watcher failed');
        }
      }
    });
    this.client = client;
    this.subscriber = subscriber;
    // start() never waits on Redis: a node whose Redis is down starts and says so.
    client.connect().then(() => this.markUp(), (err: unknown) => this.markDown(describeError(err)));
    subscriber.connect().catch(() => undefined);
    subscriber.psubscribe(`${prefix}*`).catch(() => undefined);
  }

  private close(): void {
    for (const connection of [this.client, this.subscriber]) {
      if (!connection) continue;
      // A closing we asked for is not Redis going away.
      connection.removeAllListeners('close');
      connection.removeAllListeners('error');
      connection.on('error', () => undefined);
      connection.disconnect();
    }
    this.client = undefined;
    this.subscriber = undefined;
    this.up = false;
  }
}
