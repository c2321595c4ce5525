// The module instance over a real context: its state file carries what was told across a restart.
import assert from 'node:assert/strict';
import { copyFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { createRegistrar } from '../../../src/agent/kit/metrics.js';
import { Alerter } from '../../../src/modules/alerts/alerter.js';
import { configSchema } from '../../../src/modules/alerts/config.js';
import { declareMetrics } from '../../../src/modules/alerts/metrics.js';
import { startHttpRecorder, type HttpRecorder } from '../../harness/http-recorder.js';
import { freePort } from '../../harness/ports.js';
import { createTestContext, type TestModuleContext } from '../../helpers/module-context.js';

let recorder: HttpRecorder;
before(async () => {
  recorder = await startHttpRecorder();
});
after(() => recorder?.close());

function instance(t: TestModuleContext, clock: { now: number }) {
  const config = configSchema.parse({ group: '0s', host: { diskFree: 0, memoryAvailable: 0 }, channels: [{ name: 'hook', type: 'webhook', url: `${recorder.url}/hook/x` }] });
  return new Alerter(t.ctx, config, declareMetrics(createRegistrar(new Registry())), { now: () => clock.now });
}

async function settle(alerter: Alerter): Promise<void> {
  await alerter.tick();
  await alerter.settle();
  await alerter.tick();
}

test('restart: the state file (0600) keeps the open alert and what was told; the same fire is not re-sent, its resolve is', async () => {
  const clock = { now: Date.parse('2026-12-01T10:00:00Z') };
  const first = await createTestContext('alerts');
  const second = await createTestContext('alerts');
  try {
    recorder.requests.length = 0;
    const before = instance(first, clock);
    await before.start();
    const probes = first.conditions.reporter('probes');
    probes.fire({ key: 'probe:redis:down', severity: 'critical', summary: 'redis is down', item: 'redis' });
    await settle(before);
    assert.equal(recorder.requests.length, 1);
    await before.stop();
    const file = join(first.ctx.stateDir, 'state.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    await copyFile(file, join(second.ctx.stateDir, 'state.json'));

    clock.now += 10 * 60_000;
    const afterRestart = instance(second, clock);
    await afterRestart.start();
    assert.deepEqual(afterRestart.view().firing.map((f) => f.key), ['probe:redis:down'], 'the open alert is shown after the restart');
    const reporter = second.conditions.reporter('probes');
    reporter.fire({ key: 'probe:redis:down', severity: 'critical', summary: 'redis is down', item: 'redis' });
    await settle(afterRestart);
    assert.equal(recorder.requests.length, 1, 'not re-sent within repeatCritical');
    reporter.resolve('probe:redis:down');
    await settle(afterRestart);
    assert.equal(recorder.requests.length, 2);
    assert.equal((JSON.parse(recorder.requests[1]!.body) as { status: string }).status, 'resolved');
    await afterRestart.stop();
  } finally {
    await first.dispose();
    await second.dispose();
  }
});

test('restart: an open alert whose item or module was removed while the agent was down ends once every module has started', async () => {
  const clock = { now: Date.parse('2026-12-01T10:00:00Z') };
  const first = await createTestContext('alerts');
  const second = await createTestContext('alerts');
  try {
    recorder.requests.length = 0;
    const before = instance(first, clock);
    await before.start();
    first.conditions.reporter('probes').fire({ key: 'probe:gone:down', severity: 'critical', summary: 'gone is down', item: 'gone' });
    first.conditions.reporter('probes').fire({ key: 'probe:kept:down', severity: 'critical', summary: 'kept is down', item: 'kept' });
    first.conditions.reporter('logs').fire({ key: 'logs:app:rotation', severity: 'warning', summary: 'rotation of app failed', item: 'app' });
    await settle(before);
    assert.equal(recorder.requests.length, 1);
    await before.stop();
    await copyFile(join(first.ctx.stateDir, 'state.json'), join(second.ctx.stateDir, 'state.json'));

    // The new config: probe 'gone' removed, the logs section removed, probe 'kept' still there (still down).
    clock.now += 10 * 60_000;
    const afterRestart = instance(second, clock);
    await afterRestart.start();
    second.conditions.reporter('probes').present('kept');
    await settle(afterRestart);
    assert.equal(afterRestart.view().firing.length, 3, 'nothing ends before the agent has started every module');
    second.conditions.startupDone();
    await settle(afterRestart);
    assert.deepEqual(afterRestart.view().firing.map((f) => f.key), ['probe:kept:down']);
    assert.equal(recorder.requests.length, 2);
    const resolved = JSON.parse(recorder.requests[1]!.body) as { status: string; alerts: Array<{ key: string; status: string }> };
    assert.deepEqual(resolved.alerts.map((a) => `${a.key} ${a.status}`).sort(), ['logs:app:rotation resolved', 'probe:gone:down resolved']);
    await afterRestart.stop();
  } finally {
    await first.dispose();
    await second.dispose();
  }
});

test('a corrupt state file is set aside as state.json.corrupt, logged, and the module starts empty', async () => {
  const t = await createTestContext('alerts');
  try {
    await writeFile(join(t.ctx.stateDir, 'state.json'), '{"version": 1, "firing": "nope"');
    const warnings: string[] = [];
    const ctx = { ...t.ctx, log: Object.assign(Object.create(t.ctx.log) as typeof t.ctx.log, { warn: (fields: { problem: string }, msg: string) => warnings.push(`${msg}: ${fields.problem}`) }) };
    const alerter = instance({ ...t, ctx }, { now: Date.now() });
    await alerter.start();
    assert.match(warnings.join('\n'), /alerts state not usable; starting empty: .*state\.json is not valid state/);
    assert.ok((await readdir(t.ctx.stateDir)).includes('state.json.corrupt'));
    assert.equal(await readFile(join(t.ctx.stateDir, 'state.json.corrupt'), 'utf8'), '{"version": 1, "firing": "nope"');
    assert.deepEqual(alerter.view().firing, []);
    await alerter.stop();
  } finally {
    await t.dispose();
  }
});

test('heartbeat: the URL is pinged at start and every `every`; /alerts shows the last ping by scheme://host; a failed ping says why without the path', async () => {
  const t = await createTestContext('alerts');
  const dead = `http://127.0.0.1:${await freePort()}`;
  try {
    recorder.requests.length = 0;
    const config = (url: string) =>
      configSchema.parse({ host: { diskFree: 0, memoryAvailable: 0 }, heartbeat: { url, every: '10s' }, channels: [{ name: 'hook', type: 'webhook', url: `${recorder.url}/hook/x` }] });
    const alerter = new Alerter(t.ctx, config(`${recorder.url}/ping/uuid-secret`), declareMetrics(createRegistrar(new Registry())));
    await alerter.start();
    const [ping] = await recorder.waitFor(1, 10_000);
    assert.equal(`${ping!.method} ${ping!.url}`, 'POST /ping/uuid-secret');
    await until(() => alerter.view().heartbeat?.lastPing !== null);
    assert.deepEqual({ ...alerter.view().heartbeat, lastPing: { ...alerter.view().heartbeat!.lastPing, at: 'x' } }, { target: recorder.url, everyMs: 10_000, lastPing: { at: 'x', ok: true, error: null } });

    await alerter.reload(config(`${dead}/ping/uuid-secret`));
    await until(() => alerter.view().heartbeat?.lastPing?.ok === false, 15_000);
    const error = alerter.view().heartbeat!.lastPing!.error!;
    assert.match(error, new RegExp(`^heartbeat ping to ${dead} failed: ECONNREFUSED`));
    assert.ok(!error.includes('uuid-secret'));
    await alerter.stop();
  } finally {
    await t.dispose();
  }
});

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) assert.fail('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
