// caretaker-test: run-alone (it measures latency and timeouts, which other tests' load would distort)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { redisCommand } from '../../harness/redis-client.js';
import { startSentinel, type SentinelServer } from '../../harness/redis-sentinel.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { startSilentListener } from '../../harness/tcp-fakes.js';
import { checkOnce, eventually, INTERVAL_MS, startProber, TIMEOUT_MS, waitForStatus } from './fixture.js';

const PASSWORD = 'pw';
const DOWN_AFTER_MS = 300;

describe('the master behind a sentinel goes away and comes back', () => {
  let master: RedisServer;
  let sentinel: SentinelServer;
  before(async () => {
    master = await startRedis({ password: PASSWORD });
    sentinel = await startSentinel(master, { masterPassword: PASSWORD, downAfterMs: DOWN_AFTER_MS });
  });
  after(async () => {
    await sentinel?.stop();
    await master?.stop();
  });

  const masterFlags = async () => {
    const reply = await redisCommand({ port: sentinel.port }, 'SENTINEL', 'MASTER', 'mymaster');
    const fields = reply as string[];
    return fields[fields.indexOf('flags') + 1] ?? '';
  };

  test('master stopped: down with reason refused; restarted on its port: up within one interval', async () => {
    const fixture = await startProber([
      {
        name: 'cache',
        type: 'redis',
        url: `redis://:${PASSWORD}@mymaster`,
        sentinel: { master: 'mymaster', addresses: [sentinel.address] },
        interval: `${INTERVAL_MS}ms`,
        timeout: `${TIMEOUT_MS}ms`,
      },
    ]);
    try {
      await waitForStatus(fixture, 'cache', 'up', 2_000);
      await master.down();
      await waitForStatus(fixture, 'cache', 'down', 2_000);
      const down = fixture.prober.get('cache').last!;
      assert.equal(down.reason, 'refused', JSON.stringify(down));
      assert.match(down.message, new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${master.port}`));
      // Still down once the sentinel itself has flagged the master (its failover finds no replica and aborts).
      assert.ok(await eventually(async () => /s_down/.test(await masterFlags()), 3_000), `flags: ${await masterFlags()}`);
      await waitForStatus(fixture, 'cache', 'down', 10);
      await master.up();
      const took = await waitForStatus(fixture, 'cache', 'up', 3_000);
      assert.ok(took <= INTERVAL_MS + TIMEOUT_MS, `back up after ${took} ms`);
      assert.equal(fixture.prober.get('cache').last?.details.role, 'master');
    } finally {
      await fixture.stop();
    }
  });
});

test('a hung sentinel: reason timeout within timeout + 10%, and its connection is closed', async () => {
  const silent = await startSilentListener();
  const HANG_TIMEOUT_MS = 1_000;
  try {
    const view = await checkOnce({
      type: 'redis',
      url: 'redis://mymaster',
      sentinel: { master: 'mymaster', addresses: [`127.0.0.1:${silent.port}`] },
      timeout: `${HANG_TIMEOUT_MS}ms`,
    });
    assert.equal(view.last?.reason, 'timeout', JSON.stringify(view.last));
    assert.ok(view.last!.latencyMs >= HANG_TIMEOUT_MS - 1, `took ${view.last!.latencyMs} ms`);
    assert.ok(view.last!.latencyMs <= HANG_TIMEOUT_MS * 1.1, `took ${view.last!.latencyMs} ms, more than timeout + 10%`);
    assert.ok(await eventually(() => silent.connections() === 0), `${silent.connections()} connections left open`);
  } finally {
    await silent.close();
  }
});
