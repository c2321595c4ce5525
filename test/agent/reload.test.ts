import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { freePort } from '../harness/ports.js';
import { baseConfig, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { widgetEvents, widgets } from '../helpers/widgets-module.js';

let t: TestAgent;

before(async () => {
  t = await startTestAgent((dir) => baseConfig(dir, 'widgets:\n  - { name: a }\n  - { name: b }\n'), [widgets]);
});
after(async () => t.close());
beforeEach(() => {
  widgetEvents.length = 0;
});

const withWidgets = (widgetsYaml: string) => baseConfig(t.dir, widgetsYaml);

test('a broken file is refused and the running config stays', async () => {
  await t.writeConfig(withWidgets('widgets:\n  - { name: a, interval: soon }\n'));
  const report = await t.agent.reload();
  assert.equal(report.ok, false);
  assert.equal(report.issues?.[0]?.path, 'widgets.0.interval');
  assert.deepEqual(widgetEvents, []);
  assert.deepEqual((t.agent.status().modules[0]!.status as { widgets: string[] }).widgets, ['a', 'b']);
  assert.ok(t.logs.some((line) => line.msg === 'reload refused: invalid config; the running config stays'));
});

test('a changed section is reloaded with only its changed items', async () => {
  await t.writeConfig(withWidgets('widgets:\n  - { name: a }\n  - { name: b, interval: 5m }\n  - { name: c }\n'));
  const report = await t.agent.reload();
  assert.equal(report.ok, true);
  assert.deepEqual(report.modules.widgets, { change: 'reloaded' });
  assert.deepEqual(widgetEvents, ['reload:+c-~b']);
});

test('an unchanged section is left alone', async () => {
  const report = await t.agent.reload();
  assert.deepEqual(report.modules.widgets, { change: 'unchanged' });
  assert.deepEqual(widgetEvents, []);
});

test('a reload the module refuses keeps the old config and is reported', async () => {
  await t.writeConfig(withWidgets('widgets:\n  - { name: a, failReload: true }\n'));
  const report = await t.agent.reload();
  assert.equal(report.ok, false);
  assert.equal(report.modules.widgets?.change, 'failed');
  assert.match(report.modules.widgets?.error ?? '', /widget reload failed/);
  assert.deepEqual((t.agent.status().modules[0]!.status as { widgets: string[] }).widgets, ['a', 'b', 'c']);
});

test('a removed section stops the module and an added one starts it', async () => {
  await t.writeConfig(withWidgets(''));
  assert.deepEqual((await t.agent.reload()).modules.widgets, { change: 'stopped' });
  assert.equal(t.agent.status().modules[0]!.state, 'absent');
  await t.writeConfig(withWidgets('widgets:\n  - { name: z }\n'));
  assert.deepEqual((await t.agent.reload()).modules.widgets, { change: 'started' });
  assert.deepEqual(widgetEvents, ['stop', 'start:z']);
});

test('a module that fails to start is marked failed, and a later reload retries it', async () => {
  await t.writeConfig(withWidgets(''));
  await t.agent.reload();
  await t.writeConfig(withWidgets('widgets:\n  - { name: z, failStart: true }\n'));
  assert.equal((await t.agent.reload()).modules.widgets?.change, 'failed');
  assert.equal((await t.agent.reload()).modules.widgets?.change, 'failed');
  const status = t.agent.status().modules[0]!;
  assert.equal(status.state, 'failed');
  assert.match(status.error ?? '', /widget refused to start: ECONNREFUSED/);
  await t.writeConfig(withWidgets('widgets:\n  - { name: z }\n'));
  assert.deepEqual((await t.agent.reload()).modules.widgets, { change: 'started' });
  assert.equal(t.agent.status().modules[0]!.state, 'running');
});

test('concurrent reloads run one after the other', async () => {
  await t.writeConfig(withWidgets('widgets:\n  - { name: y }\n'));
  const reports = await Promise.all([t.agent.reload(), t.agent.reload(), t.agent.reload()]);
  assert.deepEqual(reports.map((r) => r.modules.widgets?.change), ['reloaded', 'unchanged', 'unchanged']);
});

test('a new metrics address is bound before the old one closes; a new admin address needs a restart', async () => {
  const oldMetrics = t.metricsUrl();
  const port = await freePort();
  await t.writeConfig(`agent: { stateDir: ${t.dir}/state }\nadmin: { listen: "127.0.0.1:1" }\nmetrics: { listen: "127.0.0.1:${port}", host: false }\nwidgets:\n  - { name: y }\n`);
  const report = await t.agent.reload();
  assert.deepEqual(report.restartRequired, ['admin.listen']);
  const newMetrics = t.metricsUrl();
  assert.equal(newMetrics, `http://127.0.0.1:${port}/metrics`);
  assert.equal((await fetch(newMetrics)).status, 200);
  await assert.rejects(fetch(oldMetrics));
});

test('a web config added by reload protects the running metrics listener on the same port', async () => {
  const { hashSync } = await import('bcryptjs');
  const { writeFile } = await import('node:fs/promises');
  const webConfig = `${t.dir}/web.yml`;
  await writeFile(webConfig, `basic_auth_users:\n  prometheus: '${hashSync('scrape-secret', 4)}'\n`);
  const port = await freePort();
  const config = (extra: string) =>
    `agent: { stateDir: ${t.dir}/state }\nadmin: { listen: "127.0.0.1:1" }\nmetrics: { listen: "127.0.0.1:${port}", host: false${extra} }\n`;
  // Fresh connections each time: the point is what a new scrape sees, not a pooled socket to the old listener.
  const { get } = await import('node:http');
  const scrape = (authorization?: string) =>
    new Promise<number>((resolve, reject) => {
      get(t.metricsUrl(), { agent: false, headers: authorization ? { authorization } : {} }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
  await t.writeConfig(config(''));
  await t.agent.reload();
  assert.equal(await scrape(), 200);
  await t.writeConfig(config(`, webConfig: ${webConfig}`));
  const report = await t.agent.reload();
  assert.equal(report.metricsError, undefined, JSON.stringify(report));
  assert.equal(t.metricsUrl(), `http://127.0.0.1:${port}/metrics`);
  assert.equal(await scrape(), 401);
  assert.equal(await scrape(`Basic ${Buffer.from('prometheus:scrape-secret').toString('base64')}`), 200);
});

test('a metrics address that cannot be bound is reported and the old listener keeps serving', async () => {
  const before = t.metricsUrl();
  const blocker = (await import('node:net')).createServer();
  const port = await freePort();
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
  try {
    const current = (await import('node:fs/promises')).readFile(t.configPath, 'utf8');
    await t.writeConfig((await current).replace(/metrics: \{ listen: "[^"]+"/, `metrics: { listen: "127.0.0.1:${port}"`));
    const report = await t.agent.reload();
    assert.equal(report.ok, false);
    assert.match(report.metricsError ?? '', new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    assert.equal(t.metricsUrl(), before);
    // Still the listener of the previous test, basic auth and all.
    assert.equal((await fetch(before)).status, 401);
  } finally {
    blocker.close();
  }
});
