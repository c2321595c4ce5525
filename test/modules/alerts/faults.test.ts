// Delivery faults against a real agent (probes + alerts) and a recording receiver on loopback.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { alerts } from '../../../src/modules/alerts/index.js';
import { probes } from '../../../src/modules/probes/index.js';
import { startHttpRecorder, type HttpRecorder } from '../../harness/http-recorder.js';
import { freePort } from '../../harness/ports.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { baseConfig, startTestAgent, type TestAgent } from '../../helpers/agent.js';
import { spawnCaretaker } from '../../helpers/spawn.js';

const HOOK = '/hook/t0ken-in-the-path';

let recorder: HttpRecorder;
let closedPort: number;
before(async () => {
  recorder = await startHttpRecorder();
  closedPort = await freePort();
});
after(() => recorder?.close());

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A tcp probe at a port where nothing listens: down at its first check, which fires probe:gone:down. */
function downProbe(port = closedPort): string {
  return `probes:\n  - { name: gone, type: tcp, address: "127.0.0.1:${port}", interval: 1s, timeout: 200ms }\n`;
}

function agentWith(channels: string, extra = ''): Promise<TestAgent> {
  return startTestAgent((dir) => baseConfig(dir, `${downProbe()}alerts:\n  group: 0s\n${extra}  channels:\n${channels}`), [probes, alerts]);
}

const metric = async (t: TestAgent, pattern: RegExp) => Number(pattern.exec(await (await fetch(t.metricsUrl())).text())?.[1] ?? NaN);

test('receiver answers 500 then 200: delivered once, the failure counted', async () => {
  recorder.requests.length = 0;
  let calls = 0;
  recorder.respond(() => (++calls === 1 ? { status: 500, body: 'oops' } : { status: 200 }));
  const t = await agentWith(`    - { name: hook, type: webhook, url: "${recorder.url}${HOOK}" }\n`, '  retry: { min: 200ms, max: 1s }\n');
  try {
    await recorder.waitFor(2);
    await sleep(1_500);
    assert.equal(recorder.requests.length, 2, 'the retry, and no duplicate after it');
    assert.equal(recorder.requests[0]!.body, recorder.requests[1]!.body, 'the same message retried');
    assert.equal(await metric(t, /caretaker_alert_notifications_total\{channel="hook",result="failed"\} (\d+)/), 1);
    assert.equal(await metric(t, /caretaker_alert_notifications_total\{channel="hook",result="delivered"\} (\d+)/), 1);
  } finally {
    await t.close();
    recorder.respond(() => ({ status: 200 }));
  }
});

test('429 with Retry-After: 2 waits two seconds before the retry, not the 100 ms backoff', async () => {
  recorder.requests.length = 0;
  const at: number[] = [];
  recorder.respond(() => {
    at.push(Date.now());
    return at.length === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 };
  });
  const t = await agentWith(`    - { name: hook, type: webhook, url: "${recorder.url}${HOOK}" }\n`, '  retry: { min: 100ms, max: 10s }\n');
  try {
    await recorder.waitFor(2, 10_000);
    assert.ok(at[1]! - at[0]! >= 1_900, `retried after ${at[1]! - at[0]!} ms`);
  } finally {
    await t.close();
    recorder.respond(() => ({ status: 200 }));
  }
});

test('receiver down the whole time: queued, retried, counted, shown in /alerts and health; delivered when it comes back', async () => {
  const port = await freePort();
  const t = await agentWith(`    - { name: hook, type: webhook, url: "http://127.0.0.1:${port}${HOOK}" }\n`, '  retry: { min: 100ms, max: 300ms, attempts: 3 }\n');
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(req.url ?? '');
      res.end('ok');
    });
  });
  try {
    await until('three failures', async () => (await metric(t, /caretaker_alert_notifications_total\{channel="hook",result="failed"\} (\d+)/)) >= 3);
    const answer = (await (await fetch(t.adminUrl('/alerts'))).json()) as { channels: Array<{ queued: number; target: string; lastDelivery: { result: string; error: string } }> };
    assert.equal(answer.channels[0]!.queued, 1);
    assert.equal(answer.channels[0]!.target, `http://127.0.0.1:${port}`);
    assert.equal(answer.channels[0]!.lastDelivery.result, 'failed');
    assert.match(answer.channels[0]!.lastDelivery.error, /ECONNREFUSED|refused/);
    assert.ok(t.logs.some((l) => l.msg === 'alert undeliverable: kept queued and retried'), 'logged as undeliverable');
    const health = (await (await fetch(t.adminUrl('/health/deep'))).json()) as { modules: Record<string, { status: string; message?: string }> };
    assert.equal(health.modules.alerts?.status, 'degraded');
    assert.equal(health.modules.alerts?.message, 'alerts undeliverable on: hook');

    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    await until('delivered', () => received.length >= 1, 5_000);
    await until('the queue empty', async () => (await metric(t, /caretaker_alert_queued_messages\{channel="hook"\} (\d+)/)) === 0, 5_000);
    await sleep(700);
    assert.deepEqual(received, [HOOK], 'delivered once');
  } finally {
    await t.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('agent killed (SIGKILL) mid-send and restarted: the open alert is neither forgotten nor sent twice within repeat, and its resolve is sent', async (t) => {
  const dir: TempDir = await makeTempDir('alerts-kill');
  const probePort = await freePort();
  const admin = await freePort();
  const config = join(dir.path, 'caretaker.yaml');
  await writeFile(
    config,
    [
      `agent: { stateDir: ${join(dir.path, 'state')} }`,
      `admin: { listen: "127.0.0.1:${admin}" }`,
      `metrics: { listen: "127.0.0.1:${await freePort()}", host: false }`,
      downProbe(probePort).trimEnd(),
      'alerts:',
      '  group: 0s',
      '  repeat: 1h',
      '  retry: { min: 200ms, max: 1s }',
      '  channels:',
      `    - { name: hook, type: webhook, url: "${recorder.url}${HOOK}" }`,
      '',
    ].join('\n'),
  );
  recorder.requests.length = 0;
  recorder.respond(() => 'hang');
  const first = spawnCaretaker(['run', '--config', config]);
  t.after(() => first.child.kill('SIGKILL'));
  let listener: net.Server | undefined;
  try {
    await recorder.waitFor(1, 40_000).catch((err: Error) => {
      throw new Error(`${err.message}; stderr: ${first.stderr()}; lines: ${JSON.stringify(first.lines.slice(-8))}`);
    });
    first.child.kill('SIGKILL');
    await first.exited;
    recorder.respond(() => ({ status: 200 }));

    const second = spawnCaretaker(['run', '--config', config]);
    t.after(() => second.child.kill('SIGKILL'));
    await recorder.waitFor(2, 40_000);
    const body = (i: number) => JSON.parse(recorder.requests[i]!.body) as { status: string; alerts: Array<{ key: string; status: string }> };
    assert.deepEqual(body(1).alerts.map((a) => [a.key, a.status]), [['probe:gone:down', 'firing']], 'the interrupted message is sent again once');
    // The restarted probe fires the condition anew: the channel was told within `repeat`, so nothing is sent.
    await second.waitForLine((l) => l.msg === 'probe down' || l.msg === 'alerts started', 20_000);
    await sleep(3_000);
    assert.equal(recorder.requests.length, 2, 'not re-sent after the restart');
    const answer = (await (await fetch(`http://127.0.0.1:${admin}/alerts`)).json()) as { firing: Array<{ key: string }> };
    assert.deepEqual(answer.firing.map((f) => f.key), ['probe:gone:down'], 'the open alert is not forgotten');

    listener = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => listener!.listen(probePort, '127.0.0.1', resolve));
    await recorder.waitFor(3, 20_000);
    assert.equal(body(2).status, 'resolved');
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0, second.stderr());
  } finally {
    await new Promise((resolve) => (listener ? listener.close(resolve) : resolve(undefined)));
    await dir.cleanup();
  }
});
