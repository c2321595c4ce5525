// A `cluster: singleton` backup job across three real agent processes sharing one real Redis: one good
// backup per tick, whoever runs it; kill -9 and SIGSTOP of the node running a tick.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { redisCommand } from '../../harness/redis-client.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { spawnCaretaker, type AgentProcess } from '../../helpers/spawn.js';

const KEY = 'a-cluster-key-of-at-least-32-characters!';
const NODES = ['web-1', 'web-2', 'web-3'] as const;

interface Node {
  name: string;
  dir: string;
  process: AgentProcess;
  admin: string;
}

interface JobView {
  running: { step: string } | null;
  cluster: { waitingOn: string | null; lastElsewhere: { node: string; tick: string } | null } | null;
}

describe('cluster: singleton backups on three agents', () => {
  let redis: RedisServer;
  let tmp: TempDir;
  const nodes = new Map<string, Node>();

  const config = (name: string, dir: string, data: string, big: string) =>
    `agent: { stateDir: ${join(dir, 'state')}, stopTimeout: 5s }\n` +
    `admin: { listen: "127.0.0.1:0" }\nmetrics: { listen: "127.0.0.1:0", host: false }\n` +
    `cluster: { redis: "${redis.url}", name: fleet, node: ${name}, leaseTtl: 2s, encryptionKey: "${KEY}" }\n` +
    `backups:\n  dir: ${join(dir, 'backups')}\n  jobs:\n` +
    `    - { name: ticks, type: files, paths: [${data}], schedule: "*/3 * * * * *", cluster: singleton, retention: { keepLast: 1000 } }\n` +
    // Fires every 15 s; the big file makes a run last a few seconds, long enough to be caught mid-dump.
    `    - { name: slow, type: files, paths: [${big}], schedule: "*/15 * * * * *", cluster: singleton, retention: { keepLast: 1000 } }\n`;

  async function start(name: string): Promise<Node> {
    const dir = join(tmp.path, name);
    await mkdir(dir, { recursive: true });
    const path = join(dir, 'caretaker.yaml');
    await writeFile(path, config(name, dir, join(tmp.path, 'data'), join(tmp.path, 'big')));
    const child = spawnCaretaker(['run', '--config', path]);
    const ready = await child.waitForLine((l) => l.msg === 'agent ready', 60_000);
    const node = { name, dir, process: child, admin: String(ready.admin) };
    nodes.set(name, node);
    return node;
  }

  async function job(node: Node, name: string): Promise<JobView> {
    return (await (await fetch(`http://${node.admin}/backups/${name}`)).json()) as JobView;
  }

  /** Good backups (a final name and a manifest) of `job` in every node's directory, by node. */
  async function goodBackups(name: string): Promise<Array<{ node: string; file: string }>> {
    const found = [];
    for (const node of NODES) {
      const folder = join(tmp.path, node, 'backups', name);
      const files = await readdir(folder).catch(() => [] as string[]);
      for (const file of files) if (file.endsWith('.tar.gz') && files.includes(`${file}.json`)) found.push({ node, file });
    }
    return found;
  }

  /** The good backups of `job` made since `before`, once there is at least one (waits at most `timeoutMs`). */
  async function newBackups(name: string, before: Array<{ node: string; file: string }>, timeoutMs: number): Promise<Array<{ node: string; file: string }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const added = (await goodBackups(name)).filter((b) => !before.some((p) => p.file === b.file && p.node === b.node));
      if (added.length > 0 || Date.now() >= deadline) return added;
      await sleep(200);
    }
  }

  /** The tick records the nodes left in Redis for `job`: tick → the node that ran it and its file. */
  async function ticks(name: string): Promise<Map<string, { node: string; file: string }>> {
    const keys = (await redisCommand({ port: redis.port }, 'KEYS', `caretaker:fleet:state:backup:${name}:tick:*`)) as string[];
    const out = new Map<string, { node: string; file: string }>();
    for (const key of keys) {
      const value = (await redisCommand({ port: redis.port }, 'HGET', key, 'v')) as string;
      out.set(key.split(':tick:')[1]!, JSON.parse(value) as { node: string; file: string });
    }
    return out;
  }

  /** The node whose `slow` run is dumping now, polled until one is (bounded). */
  async function holderOfSlow(timeoutMs: number): Promise<Node> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const node of nodes.values()) {
        const view = await job(node, 'slow').catch(() => undefined);
        if (view?.running?.step === 'dump') return node;
      }
      await sleep(100);
    }
    throw new Error('no node started a slow run');
  }

  before(async () => {
    [redis, tmp] = await Promise.all([startRedis(), makeTempDir('singleton')]);
    await mkdir(join(tmp.path, 'data'));
    await writeFile(join(tmp.path, 'data', 'a.txt'), 'small\n');
    await mkdir(join(tmp.path, 'big'));
    // Random bytes: gzip cannot shrink them, so a run takes seconds.
    await writeFile(join(tmp.path, 'big', 'blob.bin'), randomBytes(96 * 1024 * 1024));
    for (const name of NODES) await start(name);
  });

  after(async () => {
    for (const node of nodes.values()) {
      node.process.child.kill('SIGCONT');
      node.process.child.kill('SIGTERM');
      await node.process.exited;
    }
    await redis?.stop();
    await tmp?.cleanup();
  });

  it('a singleton job runs exactly once per tick across the three, over more than 10 ticks', async () => {
    const deadline = Date.now() + 60_000;
    while ((await ticks('ticks')).size < 11 && Date.now() < deadline) await sleep(500);
    const recorded = await ticks('ticks');
    assert.ok(recorded.size >= 11, `only ${recorded.size} ticks recorded`);
    const good = await goodBackups('ticks');
    const after = await ticks('ticks');
    // Each recorded tick's backup is on the node that ran it; every good backup is a recorded tick's, but for
    // at most one run between its rename and its record.
    for (const [tick, record] of recorded) assert.ok(good.some((b) => b.node === record.node && b.file === record.file), `tick ${tick}: ${JSON.stringify(record)}`);
    const recordedFiles = new Set([...after.values()].map((r) => `${r.node}/${r.file}`));
    const unrecorded = good.filter((b) => !recordedFiles.has(`${b.node}/${b.file}`));
    assert.ok(unrecorded.length <= 1, `good backups no tick claims: ${JSON.stringify(unrecorded)}`);
    assert.ok(new Set([...after.values()].map((r) => r.node)).size >= 1);
    const view = await job(nodes.get('web-1')!, 'ticks');
    assert.ok(view.cluster, 'the job view says it is a cluster singleton');
  });

  it('kill -9 of the node running a tick: another node runs that tick after the lease TTL, one good backup of it', async () => {
    const before = await goodBackups('slow');
    const holder = await holderOfSlow(40_000);
    const others = [...nodes.values()].filter((n) => n !== holder);
    // The others wait on it while it dumps (their timers fire within the same second, on a loaded machine later).
    let waiting = await job(others[0]!, 'slow');
    for (let i = 0; i < 50 && waiting.cluster?.waitingOn !== holder.name; i++) {
      await sleep(100);
      waiting = await job(others[0]!, 'slow');
    }
    assert.equal(waiting.running?.step, 'waiting');
    assert.equal(waiting.cluster?.waitingOn, holder.name);
    holder.process.child.kill('SIGKILL');
    await holder.process.exited;
    nodes.delete(holder.name);
    const added = await newBackups('slow', before, 40_000);
    assert.equal(added.length, 1, JSON.stringify(added));
    assert.notEqual(added[0]!.node, holder.name);
    // The killed run left no good backup, and the survivors' other views say who ran it.
    assert.ok(!added.some((b) => b.node === holder.name));
    await start(holder.name);
  });

  it('SIGSTOP of the node running a tick past its TTL, then SIGCONT: the old holder stops itself, one good backup of the tick', async () => {
    const before = await goodBackups('slow');
    const holder = await holderOfSlow(40_000);
    holder.process.child.kill('SIGSTOP');
    const added = await newBackups('slow', before, 40_000);
    assert.equal(added.length, 1, JSON.stringify(added));
    assert.notEqual(added[0]!.node, holder.name, 'another node ran the tick while the holder was stopped');
    holder.process.child.kill('SIGCONT');
    await holder.process.waitForLine((l) => l.msg === 'lease lost: its work is stopped', 20_000);
    // Whatever the woken node was doing, it published no second good backup of the tick.
    await sleep(3000);
    assert.equal(added.length, (await newBackups('slow', before, 0)).length, 'still one good backup of the tick');
  });

  it('Redis stopped: no node runs a singleton tick or deletes anything meanwhile; runs resume when it is back', async () => {
    const before = await goodBackups('ticks');
    await redis.down();
    const downAt = Date.now();
    try {
      const node = [...nodes.values()][0]!;
      await node.process.waitForLine((l) => l.msg === 'singleton backup not run: no node can be sure it alone runs this tick' && Date.parse(String(l.time)) >= downAt - 1000, 20_000);
      // A run that had its lease before the outage may still finish; after that nothing is added or removed.
      await sleep(3500);
      const during = await goodBackups('ticks');
      await sleep(6000);
      assert.deepEqual(await goodBackups('ticks'), during, 'nothing added or deleted while Redis is down');
      assert.ok(during.length >= before.length, 'no backup deleted');
    } finally {
      await redis.up();
    }
    const deadline = Date.now() + 30_000;
    while ((await ticks('ticks')).size < 2 && Date.now() < deadline) await sleep(300);
    assert.ok((await ticks('ticks')).size >= 2, 'ticks are run and recorded again');
  });
});
