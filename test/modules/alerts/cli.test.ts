import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../../../src/agent/cli/index.js';
import { EXIT } from '../../../src/agent/kit/cli.js';
import { alerts } from '../../../src/modules/alerts/index.js';
import { probes } from '../../../src/modules/probes/index.js';
import { startHttpRecorder, type HttpRecorder } from '../../harness/http-recorder.js';
import { freePort } from '../../harness/ports.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { baseConfig, startTestAgent } from '../../helpers/agent.js';

let recorder: HttpRecorder;
let dir: TempDir;
let config: string;
before(async () => {
  recorder = await startHttpRecorder();
  recorder.respond((r) =>
    r.url.startsWith('/bot') ? { status: 400, headers: { 'content-type': 'application/json' }, body: '{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}' } : { status: 200 },
  );
  dir = await makeTempDir('alerts-cli');
  config = join(dir.path, 'caretaker.yaml');
  await writeFile(
    config,
    [
      'alerts:',
      '  channels:',
      `    - { name: hook, type: webhook, url: "${recorder.url}/hook/tok" }`,
      `    - { name: tg, type: telegram, token: "123:abc", chatId: "-100", apiUrl: "${recorder.url}" }`,
      '',
    ].join('\n'),
  );
});
after(async () => {
  await recorder?.close();
  await dir?.cleanup();
});

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, [probes, alerts], { out: (s) => out.push(s), err: (s) => err.push(s), env: {} });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('alerts test CHANNEL sends a test message from the config with no daemon running: exit 0 once delivered', async () => {
  recorder.requests.length = 0;
  const result = await cli(['alerts', 'test', 'hook', '--config', config]);
  assert.equal(result.code, EXIT.ok, result.err);
  assert.equal(result.out, `test message delivered to hook (${recorder.url})`);
  assert.equal(recorder.requests.length, 1);
  const body = JSON.parse(recorder.requests[0]!.body) as { test: boolean; alerts: Array<{ summary: string }> };
  assert.equal(body.test, true);
  assert.match(body.alerts[0]!.summary, /test message/);
});

test("alerts test CHANNEL exits 1 with the channel's error; 64 for an unknown channel; 78 without an alerts section", async () => {
  const refused = await cli(['alerts', 'test', 'tg', '--config', config]);
  assert.equal(refused.code, EXIT.failure);
  assert.match(refused.err, /^tg: .*chat not found/);

  const unknown = await cli(['alerts', 'test', 'pager', '--config', config]);
  assert.equal(unknown.code, EXIT.usage);
  assert.equal(unknown.err, "no channel named 'pager' (alerts.channels has: hook, tg)");

  const bare = join(dir.path, 'bare.yaml');
  await writeFile(bare, 'probes: []\n');
  const none = await cli(['alerts', 'test', 'hook', '--config', bare]);
  assert.equal(none.code, EXIT.config);
  assert.match(none.err, /no alerts section/);

  assert.equal((await cli(['alerts', 'frobnicate'])).code, EXIT.usage);
});

test('caretaker alerts prints the firing conditions and channels from the daemon; exit 1 while something fires, 69 without a daemon', async () => {
  const port = await freePort();
  const t = await startTestAgent(
    (d) => baseConfig(d, `probes:\n  - { name: gone, type: tcp, address: "127.0.0.1:${port}", interval: 1s, timeout: 200ms }\nalerts:\n  group: 0s\n  channels:\n    - { name: hook, type: webhook, url: "${recorder.url}/hook/tok" }\n`),
    [probes, alerts],
  );
  try {
    let result = await cli(['alerts', '--url', t.adminAddress]);
    for (let i = 0; i < 50 && !result.out.includes('probe:gone:down'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      result = await cli(['alerts', '--url', t.adminAddress]);
    }
    assert.equal(result.code, EXIT.failure);
    assert.match(result.out, /^SEVERITY +KEY +SINCE +SUMMARY\nwarning +probe:gone:down /);
    assert.match(result.out, /\nCHANNEL +TYPE +TARGET +QUEUED +LAST DELIVERY +RESULT +ERROR\nhook +webhook +http:\/\/127\.0\.0\.1:\d+ +\d+ /);
    const json = JSON.parse((await cli(['alerts', '--json', '--url', t.adminAddress])).out) as { firing: unknown[] };
    assert.equal(json.firing.length, 1);
  } finally {
    await t.close();
  }
  assert.equal((await cli(['alerts', '--url', `127.0.0.1:${port}`])).code, EXIT.unavailable);
});
