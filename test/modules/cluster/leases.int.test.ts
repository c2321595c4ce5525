// Leases with fencing tokens against a real redis-server: take, renew, release, expiry of a dead holder,
// a paused holder that wakes after its TTL, fenced writes, Redis going away and coming back.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LeaseLostError, type Lease } from '../../../src/agent/kit/cluster.js';
import { configSchema } from '../../../src/modules/cluster/config.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { redisCommand } from '../../harness/redis-client.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { KEY, reachable, startNode, type TestNode } from './support.js';

let redis: RedisServer;
let tmp: TempDir;
before(async () => {
  [redis, tmp] = await Promise.all([startRedis({ password: 'cluster pw' }), makeTempDir('cluster-leases')]);
});
after(async () => {
  await redis?.stop();
  await tmp?.cleanup();
});

function leaseOf(result: { lease: Lease } | { holder: unknown }): Lease {
  if (!('lease' in result)) assert.fail(`expected the lease, got ${JSON.stringify(result)}`);
  return result.lease;
}

async function nodes(...names: string[]): Promise<TestNode[]> {
  const started = await Promise.all(names.map((n) => startNode(redis.url, n)));
  await Promise.all(started.map((s) => reachable(s.node)));
  return started;
}

test('one holder at a time; tokens grow; a release lets the next node in; renewals keep a lease past its TTL', async () => {
  const [a, b] = await nodes('web-1', 'web-2');
  try {
    const first = leaseOf(await a!.node.acquire('job'));
    const refused = await b!.node.acquire('job');
    assert.ok('holder' in refused);
    assert.equal(refused.holder?.node, 'web-1');
    assert.equal(refused.holder?.token, first.token);
    // Held for 2.5 TTLs: renewed in the background.
    await sleep(5000);
    first.check();
    assert.equal((await b!.node.holder('job'))?.node, 'web-1');
    await first.release();
    assert.ok(first.signal.aborted);
    const second = leaseOf(await b!.node.acquire('job'));
    assert.ok(second.token > first.token, `${second.token} > ${first.token}`);
    await assert.rejects(a!.node.write('k', 'stale', first), LeaseLostError);
    const metrics = await a!.registry.metrics();
    assert.match(metrics, /caretaker_cluster_lease_held\{lease="job"\} 0/);
    assert.match(metrics, /caretaker_cluster_lease_acquisitions_total\{lease="job"\} 1/);
    assert.match(metrics, /caretaker_cluster_redis_up 1/);
    await second.release();
  } finally {
    await Promise.all([a!.dispose(), b!.dispose()]);
  }
});

interface Holder {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  waitFor(what: string, match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** holder.ts in its own process: a node that takes `lease` and writes under it every 100 ms. */
function spawnHolder(node: string, lease: string): Holder {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./holder.ts', import.meta.url).pathname, redis.url, node, lease], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HOLDER_STATE_DIR: join(tmp.path, `${node}-${lease}-${Date.now()}`) },
  });
  const lines: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  return {
    child,
    lines,
    async waitFor(what, match, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`holder ${node}: timed out waiting for ${what}; saw ${JSON.stringify(lines.slice(-3))}`);
        await sleep(20);
      }
    },
  };
}

async function takeWhenFree(member: TestNode, lease: string, timeoutMs: number): Promise<{ lease: Lease; at: number }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const result = await member.node.acquire(lease);
    if ('lease' in result) return { lease: result.lease, at: Date.now() };
    await sleep(50);
  }
  throw new Error(`${lease} was never free`);
}

test('kill -9 of the holder: another node takes the lease within the TTL and one renewal interval, with a larger token', async () => {
  const [b] = await nodes('web-2');
  const holder = spawnHolder('web-1', 'dump');
  try {
    const taken = await holder.waitFor('the lease', (l) => 'taken' in l);
    await holder.waitFor('a write', (l) => 'wrote' in l);
    holder.child.kill('SIGKILL');
    const killedAt = Date.now();
    const { lease, at } = await takeWhenFree(b!, 'dump', 10_000);
    // TTL 2 s, renewals every 2/3 s: the lease had at most 2 s left when the holder died.
    assert.ok(at - killedAt <= 2000 + 700, `taken over ${at - killedAt} ms after the kill`);
    assert.ok(lease.token > Number(taken.taken));
    await b!.node.write('dump', 'by web-2', lease);
    await lease.release();
  } finally {
    holder.child.kill('SIGKILL');
    await b!.dispose();
  }
});

test('SIGSTOP of the holder past its TTL, then SIGCONT: another node holds the lease meanwhile; the old holder refuses its own next write and stops', async () => {
  const [b] = await nodes('web-2');
  const holder = spawnHolder('web-1', 'catalog');
  try {
    const taken = Number((await holder.waitFor('the lease', (l) => 'taken' in l)).taken);
    await holder.waitFor('a write', (l) => 'wrote' in l);
    holder.child.kill('SIGSTOP');
    const { lease } = await takeWhenFree(b!, 'catalog', 10_000);
    assert.ok(lease.token > taken);
    await b!.node.write('catalog', 'by web-2', lease);
    const wrote = holder.lines.filter((l) => 'wrote' in l).length;
    holder.child.kill('SIGCONT');
    const refused = await holder.waitFor('the refusal', (l) => 'refused' in l);
    assert.equal(refused.lost, true, JSON.stringify(refused));
    assert.match(String(refused.message), /lease catalog lost/);
    assert.equal(holder.lines.filter((l) => 'wrote' in l).length, wrote, 'no write after waking');
    assert.equal((await b!.node.read('catalog'))?.toString(), 'by web-2', "the new holder's value stands");
    await lease.release();
  } finally {
    holder.child.kill('SIGKILL');
    await b!.dispose();
  }
});

test('the fence refuses a write under a smaller token than the value was written with (a failover that lost the counter)', async () => {
  const [a] = await nodes('web-1');
  try {
    leaseOf(await a!.node.acquire('state')).release();
    const second = leaseOf(await a!.node.acquire('state'));
    await a!.node.write('shared', 'by token 2', second);
    await second.release();
    // What a failover to a replica that had not seen the last INCR looks like: the counter starts lower again.
    await redisCommand({ port: redis.port, password: 'cluster pw' }, 'DEL', 'caretaker:test:fence:state');
    const lower = leaseOf(await a!.node.acquire('state'));
    assert.ok(lower.token < second.token);
    await assert.rejects(a!.node.write('shared', 'by token 1', lower), /written under a newer lease/);
    assert.equal((await a!.node.read('shared'))?.toString(), 'by token 2');
    assert.ok(lower.signal.aborted, 'a refused write ends the lease');
  } finally {
    await a!.dispose();
  }
});

test('Redis stopped: reachable() false, a condition and the metric say so, no lease is given; back: work resumes', async () => {
  const [a] = await nodes('web-1');
  try {
    const held = leaseOf(await a!.node.acquire('cert'));
    await redis.down();
    try {
      await assert.rejects(a!.node.acquire('other'));
      assert.equal(a!.node.reachable(), false);
      const firing = a!.test.conditions.firing().map((c) => c.key);
      assert.ok(firing.includes('cluster:redis:unreachable'), firing.join(', '));
      assert.match(await a!.registry.metrics(), /caretaker_cluster_redis_up 0/);
      // No renewal can succeed: the lease ends at its local deadline.
      await sleep(2200);
      assert.ok(held.signal.aborted);
      assert.ok(a!.test.conditions.firing().some((c) => c.key === 'cluster:cert:lost'));
    } finally {
      await redis.up();
    }
    await reachable(a!.node, 10_000);
    const again = leaseOf(await a!.node.acquire('cert'));
    // This Redis keeps nothing on disk: it came back empty, so the fence counter started again (README: guarantees).
    assert.equal(again.token, 1);
    assert.ok(!a!.test.conditions.firing().some((c) => c.key === 'cluster:redis:unreachable' || c.key === 'cluster:cert:lost'));
    await again.release();
  } finally {
    await a!.dispose();
  }
});

test('announcements reach every node watching the topic', async () => {
  const [a, b] = await nodes('web-1', 'web-2');
  try {
    const heard: string[] = [];
    b!.node.watch('certs', (message) => heard.push(message));
    await sleep(200);
    await a!.node.announce('certs', 'api.example.com 2');
    const deadline = Date.now() + 3000;
    while (heard.length === 0 && Date.now() < deadline) await sleep(20);
    assert.deepEqual(heard, ['api.example.com 2']);
  } finally {
    await Promise.all([a!.dispose(), b!.dispose()]);
  }
});

test('sealed values open on another node with the same key, and not with another key', async () => {
  const [a, b] = await nodes('web-1', 'web-2');
  const other = await startNode(redis.url, 'web-3', { encryptionKey: 'another-key-of-at-least-32-characters!!' });
  try {
    const sealed = a!.node.seal(Buffer.from('-----BEGIN PRIVATE KEY-----'));
    assert.ok(!sealed.includes(Buffer.from('PRIVATE')));
    assert.equal(b!.node.unseal(sealed).toString(), '-----BEGIN PRIVATE KEY-----');
    assert.throws(() => other.node.unseal(sealed), /same cluster.encryptionKey/);
  } finally {
    await Promise.all([a!.dispose(), b!.dispose(), other.dispose()]);
  }
});

test('config: a short encryption key, a bad node name and tls on redis:// are refused at the key', () => {
  const issues = (input: Record<string, unknown>) => {
    const result = configSchema.safeParse({ redis: 'redis://127.0.0.1:6379', name: 'prod', encryptionKey: KEY, ...input });
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  assert.deepEqual(issues({}), []);
  assert.match(issues({ encryptionKey: 'short' }).join(), /encryptionKey: at least 32 characters/);
  assert.match(issues({ node: 'web 1' }).join(), /node: letters, digits/);
  assert.match(issues({ tls: { verify: false } }).join(), /tls: tls settings need a rediss:\/\/ url/);
  assert.match(issues({ leaseTtl: '1s' }).join(), /leaseTtl/);
});
