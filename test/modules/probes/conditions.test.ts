import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ConditionEvent } from '../../../src/agent/kit/conditions.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { startProber } from './fixture.js';

describe('probe:<name>:down', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis({ password: 'pw' });
  });
  after(() => redis?.stop());

  test('a real redis stopped: fires once after the flapping threshold, critical for a critical probe; started: resolved', async () => {
    const fixture = await startProber([
      { name: 'cache', type: 'redis', url: redis.url, critical: true, failuresBeforeDown: 2, successesBeforeUp: 1, timeout: '500ms' },
      { name: 'side', type: 'redis', url: redis.url, timeout: '500ms' },
    ]);
    try {
      await fixture.check('cache');
      await fixture.check('side');
      assert.equal(fixture.prober.get('cache').status, 'up');
      // The first good check resolves (a condition persisted as open before a restart ends there).
      const events: ConditionEvent[] = [];
      fixture.conditions.watch((e) => events.push(e));
      await redis.down();
      await fixture.check('cache');
      assert.equal(events.length, 0, 'one failure is below the threshold of 2');
      await fixture.check('cache');
      await fixture.check('cache');
      const fired = events.filter((e) => e.key === 'probe:cache:down');
      assert.equal(fired.length, 1, JSON.stringify(events));
      assert.equal(fired[0]!.status, 'firing');
      assert.equal(fired[0]!.severity, 'critical');
      assert.equal(fired[0]!.summary, 'cache is down');
      assert.equal(fired[0]!.item, 'cache');
      assert.match(fired[0]!.detail, /refused/);
      assert.doesNotMatch(fired[0]!.detail, /pw/, 'the password stays out of the detail');

      await fixture.check('side');
      const side = fixture.conditions.firing().find((e) => e.key === 'probe:side:down');
      assert.equal(side?.severity, 'warning', 'a probe not marked critical is a warning');

      await redis.up();
      await fixture.check('cache');
      assert.equal(fixture.prober.get('cache').status, 'up');
      const last = events.filter((e) => e.key === 'probe:cache:down').at(-1);
      assert.equal(last?.status, 'resolved');
      assert.deepEqual(
        fixture.conditions.firing().map((e) => e.key),
        ['probe:side:down'],
      );
    } finally {
      await fixture.stop();
    }
  });

  test('a probe removed by a reload while down has its condition resolved', async () => {
    const fixture = await startProber([{ name: 'gone', type: 'tcp', address: '127.0.0.1:1', timeout: '500ms' }]);
    try {
      await fixture.check('gone');
      assert.equal(fixture.conditions.firing()[0]?.key, 'probe:gone:down');
      await fixture.prober.reload([]);
      assert.deepEqual(fixture.conditions.firing(), []);
    } finally {
      await fixture.stop();
    }
  });
});
