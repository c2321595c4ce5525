import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../../src/agent/cli/index.js';
import { parseArgs } from '../../src/agent/cli/args.js';
import { EXIT } from '../../src/agent/kit/cli.js';
import { freePort } from '../harness/ports.js';
import { baseConfig, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { widgetHealth, widgets } from '../helpers/widgets-module.js';

let t: TestAgent;
before(async () => {
  t = await startTestAgent((dir) => baseConfig(dir, 'widgets:\n  - { name: a }\n'), [widgets]);
});
after(async () => t.close());

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, [widgets], { out: (s) => out.push(s), err: (s) => err.push(s), env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('arguments: options anywhere, boolean flags never eat an argument', () => {
  assert.deepEqual(parseArgs(['--json', 'backups', 'restore', 'pg', 'file.dump', '--yes', '--to', 'postgres://x']), {
    command: 'backups',
    args: ['restore', 'pg', 'file.dump'],
    flags: { json: true, yes: true, to: 'postgres://x' },
  });
  assert.deepEqual(parseArgs(['-c', '/x.yaml', 'status']).flags, { config: '/x.yaml' });
  assert.throws(() => parseArgs(['status', '--url']), /--url needs a value/);
});

test('status: human table and exit 0 when healthy; exit 1 when a module is degraded', async () => {
  const ok = await cli(['status', '--url', t.adminAddress]);
  assert.equal(ok.code, EXIT.ok);
  assert.match(ok.out, /^caretaker 0\.0\.0-test/);
  assert.match(ok.out, /widgets\s+ok/);
  widgetHealth.set('a', false);
  const degraded = await cli(['status', '--url', t.adminAddress]);
  widgetHealth.clear();
  assert.equal(degraded.code, EXIT.failure);
  assert.match(degraded.out, /widgets\s+degraded/);
});

test('status --json is the API answer', async () => {
  const result = await cli(['status', '--json'], { CARETAKER_ADMIN: t.adminAddress });
  const status = JSON.parse(result.out) as { version: string; modules: Array<{ name: string }> };
  assert.equal(status.version, '0.0.0-test');
  assert.deepEqual(status.modules.map((m) => m.name), ['widgets']);
});

test('the admin address comes from the config file when not given', async () => {
  const { writeFile } = await import('node:fs/promises');
  const path = `${t.dir}/cli-only.yaml`;
  await writeFile(path, `admin: { listen: "${t.adminAddress}", token: "\${credential:not-visible-to-the-cli}" }\n`);
  const result = await cli(['status', '--config', path]);
  assert.equal(result.code, EXIT.ok, result.err);
});

test('a daemon that is not running: a clear message and exit 69', async () => {
  const result = await cli(['status', '--url', `127.0.0.1:${await freePort()}`]);
  assert.equal(result.code, EXIT.unavailable);
  assert.match(result.err, /the caretaker daemon is not reachable at 127\.0\.0\.1:\d+: is it running\?/);
  const socket = await cli(['status', '--url', 'unix:/nonexistent/caretaker.sock']);
  assert.equal(socket.code, EXIT.unavailable);
});

test('reload through the CLI reports per module', async () => {
  const result = await cli(['reload', '--url', t.adminAddress]);
  assert.equal(result.code, EXIT.ok);
  assert.match(result.out, /widgets: unchanged/);
});

test('a refused reload exits 78 with the problems, and stays visible in status, /health/deep and a metric until a good config', async () => {
  const { readFile, writeFile } = await import('node:fs/promises');
  const good = await readFile(t.configPath, 'utf8');
  // Scrapes are served from a render up to 1 s old.
  const metric = async (want: string) => {
    let value: string | undefined;
    for (let i = 0; i < 30 && value !== want; i++) {
      value = /^caretaker_config_last_reload_successful (\d)$/m.exec(await (await fetch(t.metricsUrl())).text())?.[1];
      if (value !== want) await new Promise((r) => setTimeout(r, 100));
    }
    return value;
  };
  assert.equal(await metric('1'), '1');
  await writeFile(t.configPath, `${good}bogus: 1\n`);
  try {
    const result = await cli(['reload', '--url', t.adminAddress]);
    // `systemctl reload` runs this command: a non-zero exit is what makes the reload fail visibly.
    assert.equal(result.code, EXIT.config);
    assert.match(result.err, /the config file is invalid; the running config stays/);
    assert.match(result.err, /caretaker\.yaml:\d+:\d+: bogus: unknown key/);

    const status = await cli(['status', '--url', t.adminAddress]);
    assert.equal(status.code, EXIT.failure);
    assert.match(status.out, /^config: reload refused at \S+; running on the previous config, and a restart would fail \(1 problem\):\n {2}\S*caretaker\.yaml:\d+:\d+: bogus: unknown key/m);
    const body = (await (await fetch(t.adminUrl('/status'))).json()) as { lastReload: { ok: boolean; issues: unknown[] } };
    assert.equal(body.lastReload.ok, false);
    assert.equal(body.lastReload.issues.length, 1);
    const deep = await fetch(t.adminUrl('/health/deep'));
    assert.equal(deep.status, 200, 'the agent still runs on its last good config');
    assert.equal(((await deep.json()) as { lastReload: { ok: boolean } }).lastReload.ok, false);
    assert.equal(await metric('0'), '0');
  } finally {
    await writeFile(t.configPath, good);
  }
  assert.equal((await cli(['reload', '--url', t.adminAddress])).code, EXIT.ok);
  assert.equal((await cli(['status', '--url', t.adminAddress])).code, EXIT.ok);
  assert.equal(await metric('1'), '1');
});

test('version, help and usage errors', async () => {
  assert.match((await cli(['version'])).out, /^caretaker \d+\.\d+\.\d+ \(node \d+\.\d+\.\d+\)$/);
  assert.deepEqual(Object.keys(JSON.parse((await cli(['version', '--json'])).out) as object), ['version', 'node']);
  assert.equal((await cli(['help'])).code, EXIT.ok);
  assert.equal((await cli([])).code, EXIT.usage);
  const unknown = await cli(['frobnicate']);
  assert.equal(unknown.code, EXIT.usage);
  assert.match(unknown.err, /unknown command 'frobnicate'/);
});
