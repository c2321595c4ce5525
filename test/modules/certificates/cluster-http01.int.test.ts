// The parts of shared certificates a test can drive without a CA: http-01 tokens published by one node and
// answered by the others (standalone from Redis, webroot as a file), and the shared record (key sealed, fenced).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { LeaseLostError, type Lease } from '../../../src/agent/kit/cluster.js';
import type { ScheduledWork, ScheduleSpec } from '../../../src/agent/kit/module.js';
import { PublishingSolver, TokenRelay } from '../../../src/modules/certificates/cluster/http01.js';
import { SharedCertificates } from '../../../src/modules/certificates/cluster/shared.js';
import { certSchema } from '../../../src/modules/certificates/config.js';
import { CertificateManager } from '../../../src/modules/certificates/manager.js';
import { declareMetrics } from '../../../src/modules/certificates/metrics.js';
import { StandaloneSolver } from '../../../src/modules/certificates/kinds/http01-standalone.js';
import { generateServerCerts } from '../../harness/certs.js';
import { canConnect, freePort } from '../../harness/ports.js';
import { redisCommand } from '../../harness/redis-client.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { createTestContext } from '../../helpers/module-context.js';
import { reachable, startNode, type TestNode } from '../cluster/support.js';
import { configFor } from './fixtures.js';

let redis: RedisServer;
let tmp: TempDir;
const members: TestNode[] = [];
const log = pino({ level: 'silent' });

before(async () => {
  [redis, tmp] = await Promise.all([startRedis(), makeTempDir('cluster-http01')]);
});
after(async () => {
  await Promise.all(members.map((m) => m.dispose()));
  await Promise.all([redis?.stop(), tmp?.cleanup()]);
});

async function member(name: string, extra: Record<string, unknown> = {}): Promise<TestNode> {
  const m = await startNode(redis.url, name, extra);
  members.push(m);
  await reachable(m.node);
  return m;
}

async function lease(m: TestNode, name: string): Promise<Lease> {
  const taken = await m.node.acquire(name);
  assert.ok('lease' in taken, `lease ${name} free`);
  return taken.lease;
}

async function get(port: number, token: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/.well-known/acme-challenge/${token}`);
  return { status: response.status, body: await response.text() };
}

test('an http-01 token published by the holder: a standalone node answers it from Redis, a webroot node writes the file; both undo it when the holder is done', async () => {
  const [holderPort, standalonePort] = await Promise.all([freePort(), freePort()]);
  const webroot = path.join(tmp.path, 'www');
  const holder = await member('holder');
  const listener = await member('standalone');
  const writer = await member('webroot');
  const cert = (challenge: unknown) => certSchema.parse({ name: 'site', domains: ['site.example.com'], challenge });
  const standaloneConfig = cert({ type: 'http-01', standalone: { address: '127.0.0.1', port: standalonePort } });
  const webrootConfig = cert({ type: 'http-01', webroot });
  const relays = [new TokenRelay(listener.node, () => standaloneConfig, log), new TokenRelay(writer.node, () => webrootConfig, log)];
  for (const relay of relays) relay.start();
  try {
    assert.equal(await canConnect(standalonePort), false, 'no listener before a token is published');
    const solver = new PublishingSolver(new StandaloneSolver('127.0.0.1', holderPort), holder.node, await lease(holder, 'cert:site'), 'site');
    const task = { domain: 'site.example.com', wildcard: false, token: 'tok_en-1', keyAuthorization: 'tok_en-1.thumbprint' };
    const signal = new AbortController().signal;
    await solver.open(signal);
    await solver.present(task, signal);
    assert.deepEqual(await get(holderPort, task.token), { status: 200, body: task.keyAuthorization });
    assert.deepEqual(await get(standalonePort, task.token), { status: 200, body: task.keyAuthorization }, 'the other node answers from Redis');
    assert.equal((await get(standalonePort, 'unknown-token')).status, 404);
    const file = path.join(webroot, '.well-known', 'acme-challenge', task.token);
    assert.equal(await readFile(file, 'utf8'), task.keyAuthorization);
    const ttl = Number(await redisCommand({ port: redis.port }, 'PTTL', `caretaker:test:state:http01:${task.token}`));
    assert.ok(ttl > 0 && ttl <= 300_000, `published with a TTL (${ttl} ms)`);

    await solver.remove(task);
    await solver.close();
    for (let i = 0; i < 50 && ((await canConnect(standalonePort)) || (await stat(file).then(() => true, () => false))); i++) await sleep(20);
    assert.equal(await canConnect(standalonePort), false, 'the relay listener closes when the holder is done');
    await assert.rejects(stat(file), { code: 'ENOENT' });
  } finally {
    await Promise.all(relays.map((r) => r.stop()));
  }
});

test('the shared record: key sealed (never in clear in Redis), chain and key checked on read, a wrong cluster key named, a stale holder refused', async () => {
  const certs = await generateServerCerts(tmp.path);
  const set = { keyPem: await readFile(certs.key, 'utf8'), fullchainPem: await readFile(certs.cert, 'utf8') };
  const one = await member('one');
  const held = await lease(one, 'cert:rec');
  await new SharedCertificates(one.node).store('rec', set, held);
  const raw = String(await redisCommand({ port: redis.port }, 'HGET', 'caretaker:test:state:cert:rec', 'v'));
  assert.ok(!raw.includes('PRIVATE KEY') && !raw.includes(set.keyPem.split('\n')[1]!), 'no key in clear in Redis');
  const stored = await new SharedCertificates(one.node).read('rec');
  assert.equal(stored?.keyPem, set.keyPem);
  assert.equal(stored?.fullchainPem, set.fullchainPem);

  const other = await member('other', { encryptionKey: 'another-cluster-key-of-at-least-32-chars' });
  await assert.rejects(new SharedCertificates(other.node).read('rec'), /does not decrypt: is cluster\.encryptionKey the same on every node/);
  assert.equal(await new SharedCertificates(other.node).read('missing'), null);

  // A lease lost (released, taken over) before the store: the write is refused and the record stays.
  await held.release();
  const newer = await lease(other, 'cert:rec');
  await assert.rejects(new SharedCertificates(one.node).store('rec', set, held), LeaseLostError);
  await newer.release();
  assert.equal((await new SharedCertificates(one.node).read('rec'))?.serial, stored?.serial);
});

test("a node whose standalone port is taken says so and answers nothing; the holder's order goes on", async () => {
  const busyPort = await freePort();
  const squatter = net.createServer().listen(busyPort, '127.0.0.1');
  await once(squatter, 'listening');
  const lines: Array<Record<string, unknown>> = [];
  const capture = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) }));
  const holder = await member('holder-2');
  const other = await member('busy');
  const config = certSchema.parse({ name: 'busy', domains: ['busy.example.com'], challenge: { type: 'http-01', standalone: { address: '127.0.0.1', port: busyPort } } });
  const relay = new TokenRelay(other.node, () => config, capture);
  relay.start();
  try {
    const solver = new PublishingSolver(new StandaloneSolver('127.0.0.1', await freePort()), holder.node, await lease(holder, 'cert:busy'), 'busy');
    const signal = new AbortController().signal;
    await solver.open(signal);
    await solver.present({ domain: 'busy.example.com', wildcard: false, token: 'busy-token', keyAuthorization: 'busy-token.x' }, signal);
    await solver.close();
    const said = () => lines.find((l) => l.msg === 'http-01 token from another node not answered');
    for (let i = 0; i < 100 && !said(); i++) await sleep(20);
    const warned = said();
    assert.match(String(warned?.err), /127\.0\.0\.1:\d+: address already in use \(EADDRINUSE\)/);
  } finally {
    await relay.stop();
    squatter.close();
  }
});

test('a cluster joined by a reload: the periodic check runs at least every minute from then on', async () => {
  const context = await createTestContext('certificates');
  const every: number[] = [];
  const ctx = { ...context.ctx, schedule: (spec: ScheduleSpec, work: ScheduledWork) => (every.push('everyMs' in spec ? spec.everyMs : 0), context.ctx.schedule(spec, work)) };
  const config = configFor('https://127.0.0.1:9/dir', undefined, path.join(tmp.path, 'reload'), []);
  const manager = new CertificateManager(ctx, config, declareMetrics(context.registrar), { certbotSchedules: [] });
  try {
    await manager.start();
    assert.deepEqual(every, [3_600_000]);
    context.cluster.provide((await member('reloaded')).node);
    await manager.reload(config);
    assert.deepEqual(every, [3_600_000, 60_000]);
  } finally {
    await manager.stop();
    await context.dispose();
  }
});
