import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../../src/agent/cli/index.js';
import { EXIT } from '../../../src/agent/kit/cli.js';
import { alerts } from '../../../src/modules/alerts/index.js';
import { configSchema } from '../../../src/modules/alerts/config.js';
import { makeTempDir } from '../../harness/tmpdir.js';

const hook = { name: 'ops', type: 'webhook', url: 'https://hooks.example.com/x' };

function issues(section: unknown): string[] {
  const result = configSchema.safeParse(section);
  assert.ok(!result.success, 'refused');
  return result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('defaults: group 30s, repeat 4h, repeatCritical 1h, a rate limit and retries; host conditions on with 10 %', () => {
  const config = configSchema.parse({ channels: [hook] });
  assert.equal(config.group, 30_000);
  assert.equal(config.repeat, 4 * 3_600_000);
  assert.equal(config.repeatCritical, 3_600_000);
  assert.deepEqual(config.rateLimit, { messages: 30, per: 3_600_000 });
  assert.deepEqual(config.retry, { min: 5_000, max: 300_000, attempts: 5 });
  assert.equal(config.host.diskFree, 10);
  assert.equal(config.host.memoryAvailable, 10);
  assert.equal(configSchema.parse({ channels: [hook], group: '0s' }).group, 0, 'group 0 is allowed');
});

test('a route naming an unknown channel is refused at its key path, naming the channels there are', () => {
  assert.deepEqual(issues({ channels: [hook], routes: [{ match: { severity: 'critical' }, channels: ['ops', 'pager'] }] }), [
    "routes.0.channels.1: no channel named 'pager' (alerts.channels has: ops)",
  ]);
});

test('bad keys are refused with their path: severity, duplicate channel, retry.min above max, no channel, unknown key', () => {
  assert.match(issues({ channels: [hook], routes: [{ match: { severity: 'urgent' }, channels: ['ops'] }] })[0]!, /^routes\.0\.match\.severity: /);
  assert.match(issues({ channels: [hook, hook] })[0]!, /^channels\.1\.name: duplicate name 'ops'/);
  assert.match(issues({ channels: [hook], retry: { min: '10m', max: '1m' } })[0]!, /^retry\.min: must not be longer than retry\.max/);
  assert.match(issues({ channels: [] })[0]!, /^channels: configure at least one channel/);
  assert.match(issues({ channels: [hook], repeats: '1h' })[0]!, /repeats/);
  assert.match(issues({ channels: [hook], heartbeat: { url: 'ftp://x' } })[0]!, /^heartbeat\.url: /);
});

test('check-config refuses a bad URL, a missing chat id and an unknown route channel with the key path, exit 78', async () => {
  const dir = await makeTempDir('alerts-config');
  const check = async (lines: string[]) => {
    const path = join(dir.path, 'caretaker.yaml');
    await writeFile(path, ['alerts:', '  channels:', ...lines, ''].join('\n'));
    const err: string[] = [];
    const code = await runCli(['check-config', '--config', path], [alerts], { out: () => undefined, err: (s) => err.push(s), env: {} });
    assert.equal(code, EXIT.config);
    return err.join('\n');
  };
  try {
    const channels = await check(['    - { name: ops, type: webhook, url: "not a url" }', '    - { name: tg, type: telegram, token: "123:abc" }']);
    assert.match(channels, /caretaker\.yaml:3:\d+: alerts\.channels\.0\.url: expected the receiver URL/);
    assert.match(channels, /caretaker\.yaml:4:\d+: alerts\.channels\.1\.chatId: missing the chat id/);
    // Routes are checked once the channels are valid.
    const routes = await check(['    - { name: ops, type: webhook, url: "https://hooks.example.com/x" }', '  routes:', '    - { channels: [ops, nope] }']);
    assert.match(routes, /alerts\.routes\.0\.channels\.1: no channel named 'nope' \(alerts\.channels has: ops\)/);
  } finally {
    await dir.cleanup();
  }
});
