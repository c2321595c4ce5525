// End to end: real redis-server, the real agent (probes + alerts), a recording HTTP receiver for the channels.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { alerts } from '../../../src/modules/alerts/index.js';
import { probes } from '../../../src/modules/probes/index.js';
import { startHttpRecorder, type HttpRecorder, type RecordedRequest } from '../../harness/http-recorder.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { baseConfig, startTestAgent, type TestAgent } from '../../helpers/agent.js';

const TG_TOKEN = '123456:AAbbCCddEEff-secret';
const HOOK_PATH = '/hook/s3cr3t-path-token';

interface Body {
  status: string;
  host: string;
  alerts: Array<{ key: string; status: string; summary: string; severity: string }>;
}

const hookBodies = (recorder: HttpRecorder) => recorder.requests.filter((r) => r.url === HOOK_PATH).map((r) => JSON.parse(r.body) as Body);
const tgRequests = (recorder: HttpRecorder) => recorder.requests.filter((r) => r.url.startsWith('/bot'));

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function redisProbes(redis: RedisServer, names: string[]): string {
  return names.map((name) => `  - { name: ${name}, type: redis, url: "${redis.url}", interval: 200ms, timeout: 150ms, failuresBeforeDown: 3 }`).join('\n');
}

describe('alerts end to end', () => {
  let redis: RedisServer;
  let recorder: HttpRecorder;
  before(async () => {
    redis = await startRedis();
    recorder = await startHttpRecorder();
    recorder.respond((r: RecordedRequest) => (r.url.startsWith('/bot') ? { status: 200, body: '{"ok":true,"result":{}}', headers: { 'content-type': 'application/json' } } : { status: 200, body: 'ok' }));
  });
  after(async () => {
    await recorder?.close();
    await redis?.stop();
  });

  test('redis stopped: exactly one "down" per channel after the flapping threshold, no repeat before `repeat`, one "resolved" when it is back', async () => {
    recorder.requests.length = 0;
    const t: TestAgent = await startTestAgent(
      (dir) =>
        baseConfig(
          dir,
          `probes:\n${redisProbes(redis, ['cache'])}\nalerts:\n  group: 0s\n  repeat: 1m\n  repeatCritical: 1m\n  channels:\n` +
            `    - { name: hook, type: webhook, url: "${recorder.url}${HOOK_PATH}" }\n` +
            `    - { name: tg, type: telegram, token: "${TG_TOKEN}", chatId: "-1001234567890", apiUrl: "${recorder.url}" }\n`,
        ),
      [probes, alerts],
    );
    try {
      await sleep(600);
      assert.equal(recorder.requests.length, 0, 'nothing while redis is up');
      await redis.down();
      const downAt = Date.now();
      await until('one message per channel', () => hookBodies(recorder).length >= 1 && tgRequests(recorder).length >= 1);
      assert.ok(Date.now() - downAt >= 400, 'not before three failed checks 200 ms apart');
      const [down] = hookBodies(recorder);
      assert.equal(down!.status, 'firing');
      assert.deepEqual(down!.alerts.map((a) => [a.key, a.status]), [['probe:cache:down', 'firing']]);
      assert.equal(tgRequests(recorder)[0]!.url, `/bot${TG_TOKEN}/sendMessage`);
      assert.match(JSON.parse(tgRequests(recorder)[0]!.body).text as string, /cache/);

      const answer = (await (await fetch(t.adminUrl('/alerts'))).json()) as { firing: Array<{ key: string }>; channels: Array<{ name: string; lastDelivery: { result: string } | null; target: string }> };
      assert.deepEqual(answer.firing.map((f) => f.key), ['probe:cache:down']);
      assert.deepEqual(answer.channels.map((c) => [c.name, c.lastDelivery?.result, c.target]), [['hook', 'delivered', recorder.url], ['tg', 'delivered', recorder.url]]);

      await sleep(3_000);
      assert.equal(hookBodies(recorder).length, 1, 'no repeat before `repeat` while it keeps failing');
      assert.equal(tgRequests(recorder).length, 1);

      await redis.up();
      await until('one resolved per channel', () => hookBodies(recorder).length >= 2 && tgRequests(recorder).length >= 2);
      const resolved = hookBodies(recorder)[1]!;
      assert.equal(resolved.status, 'resolved');
      assert.deepEqual(resolved.alerts.map((a) => [a.key, a.status]), [['probe:cache:down', 'resolved']]);
      await sleep(1_000);
      assert.equal(recorder.requests.length, 4, 'nothing more');
      const metrics = await (await fetch(t.metricsUrl())).text();
      assert.match(metrics, /caretaker_alert_notifications_total\{channel="hook",result="delivered"\} 2/);
      assert.match(metrics, /caretaker_alerts_firing\{severity="warning"\} 0/);
    } finally {
      await t.close();
    }
  });

  test('ten probes failing together are one grouped message, and their recovery one more', async () => {
    recorder.requests.length = 0;
    const names = Array.from({ length: 10 }, (_, i) => `svc${i}`);
    const t = await startTestAgent(
      (dir) => baseConfig(dir, `probes:\n${redisProbes(redis, names)}\nalerts:\n  group: 2s\n  channels:\n    - { name: hook, type: webhook, url: "${recorder.url}${HOOK_PATH}" }\n`),
      [probes, alerts],
    );
    try {
      await sleep(600);
      await redis.down();
      await until('the grouped message', () => hookBodies(recorder).length >= 1);
      await sleep(2_500);
      assert.equal(hookBodies(recorder).length, 1, 'one message for ten probes');
      assert.deepEqual(hookBodies(recorder)[0]!.alerts.map((a) => a.key).sort(), names.map((n) => `probe:${n}:down`).sort());
      await redis.up();
      await until('the grouped resolution', () => hookBodies(recorder).length >= 2);
      await sleep(2_500);
      assert.equal(hookBodies(recorder).length, 2);
      assert.equal(hookBodies(recorder)[1]!.status, 'resolved');
      assert.equal(hookBodies(recorder)[1]!.alerts.length, 10);
    } finally {
      await t.close();
    }
  });
});
