import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { Agent } from '../../src/agent/agent.js';
import type { ConditionEvent } from '../../src/agent/kit/conditions.js';
import { SecretSet } from '../../src/agent/logger.js';
import { SdNotify } from '../../src/agent/sd-notify.js';
import { baseConfig, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { widgets } from '../helpers/widgets-module.js';

let t: TestAgent;
const events: ConditionEvent[] = [];
const SECRET = 'not-a-duration-but-a-secret';
const SECRET_NAME = 'widget-secret-name';

before(async () => {
  process.env.CARETAKER_TEST_WIDGET_INTERVAL = SECRET;
  process.env.CARETAKER_TEST_WIDGET_NAME = SECRET_NAME;
  t = await startTestAgent((dir) => baseConfig(dir, 'widgets:\n  - { name: a, broken: true }\n'), [widgets]);
  t.agent.conditions.watch((e) => events.push(e));
});
after(async () => {
  delete process.env.CARETAKER_TEST_WIDGET_INTERVAL;
  delete process.env.CARETAKER_TEST_WIDGET_NAME;
  await t.close();
});

const firing = (key: string) => t.agent.conditions.firing().find((e) => e.key === key);
const withWidgets = (yaml: string) => baseConfig(t.dir, yaml);

test('a module that started resolves its start condition at boot (an alert persisted before a restart ends)', () => {
  assert.equal(firing('widget:a:broken')?.module, 'widgets');
  assert.equal(firing('agent:module:widgets:start'), undefined);
});

test('agent:reload fires (critical) when a reload is refused, naming the key and keeping secrets out; the next good reload resolves it', async () => {
  await t.writeConfig(withWidgets('widgets:\n  - { name: a, broken: true, interval: "${env:CARETAKER_TEST_WIDGET_INTERVAL}" }\n'));
  const refused = await t.agent.reload();
  assert.equal(refused.ok, false);
  const reload = firing('agent:reload');
  assert.equal(reload?.severity, 'critical');
  assert.equal(reload!.module, 'agent');
  assert.equal(reload!.summary, 'reload refused: invalid config');
  assert.match(reload!.detail, /widgets\.0\.interval: .*the agent runs on the previous config$/);
  assert.ok(!reload!.detail.includes(SECRET), reload!.detail);

  await t.writeConfig(withWidgets('widgets:\n  - { name: a, broken: true }\n'));
  assert.equal((await t.agent.reload()).ok, true);
  assert.equal(firing('agent:reload'), undefined);
  assert.equal(events.filter((e) => e.key === 'agent:reload').at(-1)?.status, 'resolved');
});

test('agent:module:<name>:start fires when a module fails to start and is resolved when it starts; a removed section resolves its conditions', async () => {
  await t.writeConfig(withWidgets(''));
  await t.agent.reload();
  assert.equal(firing('widget:a:broken'), undefined, "the removed section's condition is resolved");
  assert.equal(events.filter((e) => e.key === 'widget:a:broken').at(-1)?.status, 'resolved');

  await t.writeConfig(withWidgets('widgets:\n  - { name: z, failStart: true }\n'));
  await t.agent.reload();
  const start = firing('agent:module:widgets:start');
  assert.equal(start?.severity, 'critical');
  assert.equal(start!.summary, 'module widgets failed to start');
  assert.match(start!.detail, /widget refused to start/);
  assert.equal(firing('agent:reload')?.summary, 'reload failed in part', 'the reload did not fully apply');

  await t.writeConfig(withWidgets('widgets:\n  - { name: z, broken: true }\n'));
  await t.agent.reload();
  assert.equal(firing('agent:module:widgets:start'), undefined);
  assert.equal(firing('agent:reload'), undefined);
  assert.ok(firing('widget:z:broken'));

  // The error names the widget, whose name here is a secret from the environment: the detail is scrubbed as logs are.
  await t.writeConfig(withWidgets(''));
  await t.agent.reload();
  await t.writeConfig(withWidgets('widgets:\n  - { name: "${env:CARETAKER_TEST_WIDGET_NAME}", failStart: true }\n'));
  await t.agent.reload();
  const secretStart = firing('agent:module:widgets:start');
  assert.match(secretStart?.detail ?? '', /ECONNREFUSED 127\.0\.0\.1:1 \(widget \[REDACTED\]\)/);
  assert.ok(!secretStart!.detail.includes(SECRET_NAME));
  await t.writeConfig(withWidgets(''));
  await t.agent.reload();
  assert.deepEqual(t.agent.conditions.firing(), [], 'a failed module whose section is removed leaves nothing firing');
});

test('a boot resolves agent:reload and the start conditions of the modules that started (alerts open before the restart end)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caretaker-agent-conditions-'));
  const configPath = join(dir, 'caretaker.yaml');
  await writeFile(configPath, baseConfig(dir, 'widgets:\n  - { name: a }\n'));
  const log = pino({ level: 'silent' });
  const agent = new Agent({ configPath, modules: [widgets], log, secrets: new SecretSet(), version: '0.0.0-test', notify: new SdNotify(log, {}) });
  const seen: string[] = [];
  agent.conditions.watch((e) => seen.push(`${e.key} ${e.status}`));
  try {
    await agent.boot();
    assert.deepEqual(seen, ['agent:reload resolved', 'agent:module:widgets:start resolved']);
  } finally {
    await agent.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
});
