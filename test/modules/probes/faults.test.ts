// caretaker-test: run-alone (it measures latency and timeouts, which other tests' load would distort)
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { redisCommand } from '../../harness/redis-client.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { startSilentListener, startTcpProxy, type SilentListener } from '../../harness/tcp-fakes.js';
import { checkOnce, eventually, INTERVAL_MS, startProber, TIMEOUT_MS, waitForStatus } from './fixture.js';
import { startHttpServer } from './servers.js';

describe('a server that accepts and never answers', () => {
  let silent: SilentListener;
  before(async () => {
    silent = await startSilentListener();
  });
  after(() => silent?.close());

  // Long enough that event-loop lag on a busy test machine stays well inside the 10% margin.
  const HANG_TIMEOUT_MS = 1_000;
  const kinds: Array<[string, () => Record<string, unknown>]> = [
    ['redis', () => ({ type: 'redis', url: `redis://127.0.0.1:${silent.port}` })],
    ['rediss', () => ({ type: 'redis', url: `rediss://127.0.0.1:${silent.port}` })],
    ['postgres', () => ({ type: 'postgres', url: `postgres://u:p@127.0.0.1:${silent.port}/db` })],
    ['http', () => ({ type: 'http', url: `http://127.0.0.1:${silent.port}/` })],
    ['tcp+tls', () => ({ type: 'tcp', address: `127.0.0.1:${silent.port}`, tls: {} })],
  ];
  for (const [label, item] of kinds) {
    test(`${label}: reason timeout within timeout + 10%, and the connection is closed`, async () => {
      const view = await checkOnce({ ...item(), timeout: `${HANG_TIMEOUT_MS}ms` });
      assert.equal(view.last?.reason, 'timeout', JSON.stringify(view.last));
      assert.ok(view.last!.latencyMs >= HANG_TIMEOUT_MS - 1, `took ${view.last!.latencyMs} ms`);
      // Time the test machine kept the loop from running is not counted against the server (deadline.ts).
      const ownMs = view.last!.latencyMs - view.last!.loopLateMs;
      assert.ok(ownMs <= HANG_TIMEOUT_MS * 1.1, `took ${view.last!.latencyMs} ms (${view.last!.loopLateMs} ms of it the loop was late), more than timeout + 10%`);
      assert.ok(view.last!.latencyMs <= HANG_TIMEOUT_MS * 2.1, `took ${view.last!.latencyMs} ms, more than twice the timeout`);
      assert.ok(await eventually(() => silent.connections() === 0), `${silent.connections()} connections left open`);
    });
  }

  test('stop() during a hung check returns at once and closes the connection', async () => {
    const fixture = await startProber([{ name: 'hung', type: 'postgres', url: `postgres://u:p@127.0.0.1:${silent.port}/db`, timeout: '30s' }]);
    assert.ok(await eventually(() => silent.connections() === 1));
    const started = Date.now();
    await fixture.stop();
    assert.ok(Date.now() - started < 500, `stop took ${Date.now() - started} ms`);
    await fixture.stop(); // idempotent
    assert.ok(await eventually(() => silent.connections() === 0));
    assert.equal(fixture.prober.list().length, 0);
  });
});

test('a CA file gone after the config was loaded is reason tls, not a crash', async () => {
  // The file must exist at load (a missing one is a config error); removed later, each check reports it.
  const dir = await mkdtemp(join(tmpdir(), 'caretaker-ca-'));
  const ca = join(dir, 'ca.pem');
  await writeFile(ca, 'not used');
  const fixture = await startProber([{ name: 'p', type: 'tcp', address: '127.0.0.1:1', tls: { ca } }]);
  try {
    await rm(dir, { recursive: true });
    // The probe's first check may have started, and read the file, before it went: the next one cannot.
    await fixture.check('p');
    const view = await fixture.check('p');
    assert.equal(view.last?.reason, 'tls');
    assert.match(view.last!.message, /cannot read the CA file/);
  } finally {
    await fixture.stop();
  }
});

describe('redis goes away and comes back', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis({ password: 'pw' });
  });
  after(() => redis?.stop());

  test('server stopped: down with reason refused; restarted: up again within one interval', async () => {
    const fixture = await startProber([{ name: 'cache', type: 'redis', url: redis.url, interval: `${INTERVAL_MS}ms`, timeout: `${TIMEOUT_MS}ms` }]);
    try {
      await waitForStatus(fixture, 'cache', 'up', 2_000);
      await redis.down();
      await waitForStatus(fixture, 'cache', 'down', 2_000);
      assert.equal(fixture.prober.get('cache').last?.reason, 'refused');
      await redis.up();
      const took = await waitForStatus(fixture, 'cache', 'up', 3_000);
      assert.ok(took <= INTERVAL_MS + TIMEOUT_MS, `back up after ${took} ms`);
    } finally {
      await fixture.stop();
    }
  });

  test('100 down/up cycles leave one server connection, and none after stop', async () => {
    const proxy = await startTcpProxy(redis.port);
    const fixture = await startProber([{ name: 'cache', type: 'redis', url: `redis://:pw@127.0.0.1:${proxy.port}`, timeout: '1s' }]);
    const clients = async () => Number(/connected_clients:(\d+)/.exec(String(await redisCommand({ port: redis.port, password: 'pw' }, 'INFO', 'clients')))![1]) - 1;
    try {
      for (let cycle = 0; cycle < 100; cycle++) {
        await proxy.down();
        const down = await fixture.check('cache');
        assert.equal(down.status, 'down', `cycle ${cycle}: ${JSON.stringify(down.last)}`);
        assert.equal(down.last?.reason, 'refused');
        await proxy.up();
        const up = await fixture.check('cache');
        assert.equal(up.status, 'up', `cycle ${cycle}: ${JSON.stringify(up.last)}`);
      }
      assert.equal(proxy.connections(), 1);
      assert.ok(await eventually(async () => (await clients()) === 1), `server sees ${await clients()} probe connections`);
      await fixture.stop();
      assert.ok(await eventually(async () => (await clients()) === 0), `server sees ${await clients()} connections after stop`);
    } finally {
      await fixture.stop();
      await proxy.close();
    }
  });
});

test('http: 100 down/up cycles through a proxy keep at most one connection', async () => {
  const server = await startHttpServer();
  const proxy = await startTcpProxy(server.port);
  const fixture = await startProber([{ name: 'api', type: 'http', url: `http://127.0.0.1:${proxy.port}/`, timeout: '1s' }]);
  try {
    for (let cycle = 0; cycle < 100; cycle++) {
      await proxy.down();
      assert.equal((await fixture.check('api')).last?.reason, 'refused', `cycle ${cycle}`);
      await proxy.up();
      assert.equal((await fixture.check('api')).status, 'up', `cycle ${cycle}`);
    }
    assert.equal(proxy.connections(), 1);
    await fixture.stop();
    assert.ok(await eventually(() => proxy.connections() === 0));
  } finally {
    await fixture.stop();
    await proxy.close();
    await server.close();
  }
});
