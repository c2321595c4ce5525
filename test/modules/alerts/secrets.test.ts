// No channel secret in any log line, /alerts answer, /metrics, health or CLI output, whatever the channel does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from '../../../src/agent/cli/index.js';
import { alerts } from '../../../src/modules/alerts/index.js';
import { probes } from '../../../src/modules/probes/index.js';
import { startHttpRecorder } from '../../harness/http-recorder.js';
import { freePort } from '../../harness/ports.js';
import { baseConfig, startTestAgent } from '../../helpers/agent.js';

const BOT_TOKEN = '987654321:AAsecretBotTokenXYZ';
const PATH_TOKEN = 'T0KEN-in-webhook-path-77';
const SLACK_TOKEN = 'B0SLACKPATHSECRET';
const SMTP_PASSWORD = 'smtp-Pa55word-never';
const NTFY_TOPIC = 'secret-topic-4242';
const SECRETS = [BOT_TOKEN, PATH_TOKEN, SLACK_TOKEN, SMTP_PASSWORD, NTFY_TOPIC];

test('bot token, webhook path token, SMTP password and ntfy topic appear in no log line, answer, metric or CLI output', async () => {
  const recorder = await startHttpRecorder();
  // Telegram refuses (400), the webhook fails (500) then goes through, Slack and ntfy take it; SMTP is refused at connect.
  let hookCalls = 0;
  recorder.respond((r) => {
    if (r.url.startsWith('/bot')) return { status: 400, headers: { 'content-type': 'application/json' }, body: `{"ok":false,"error_code":400,"description":"Bad Request: chat not found for ${BOT_TOKEN}"}` };
    if (r.url.startsWith('/hook')) return ++hookCalls === 1 ? { status: 500, body: `failed at /hook/${PATH_TOKEN}` } : { status: 200 };
    return { status: 200 };
  });
  const smtpPort = await freePort();
  const t = await startTestAgent(
    (dir) =>
      baseConfig(
        dir,
        [
          'probes:',
          `  - { name: gone, type: tcp, address: "127.0.0.1:${smtpPort}", interval: 1s, timeout: 200ms }`,
          'alerts:',
          '  group: 0s',
          '  retry: { min: 200ms, max: 500ms, attempts: 2 }',
          '  channels:',
          `    - { name: hook, type: webhook, url: "${recorder.url}/hook/${PATH_TOKEN}" }`,
          `    - { name: chat, type: slack, url: "${recorder.url}/services/T000/${SLACK_TOKEN}" }`,
          `    - { name: tg, type: telegram, token: "${BOT_TOKEN}", chatId: "-100200300", apiUrl: "${recorder.url}" }`,
          `    - { name: push, type: ntfy, server: "${recorder.url}", topic: ${NTFY_TOPIC} }`,
          `    - { name: mail, type: email, host: 127.0.0.1, port: ${smtpPort}, auth: { user: ops, password: "${SMTP_PASSWORD}" }, from: "caretaker@example.com", to: [ops@example.com], timeout: 2s }`,
          '',
        ].join('\n'),
      ),
    [probes, alerts],
  );
  try {
    const seen = async () => {
      const answer = (await (await fetch(t.adminUrl('/alerts'))).json()) as { channels: Array<{ name: string; lastDelivery: { result: string } | null }> };
      return Object.fromEntries(answer.channels.map((c) => [c.name, c.lastDelivery?.result]));
    };
    for (let i = 0; i < 200; i++) {
      const results = await seen();
      if (results.hook === 'delivered' && results.tg === 'rejected' && results.mail === 'failed' && results.chat === 'delivered' && results.push === 'delivered') break;
      await sleep(100);
    }
    assert.deepEqual(await seen(), { hook: 'delivered', chat: 'delivered', tg: 'rejected', push: 'delivered', mail: 'failed' });
    await sleep(1_200);

    const outputs: Array<[string, string]> = [
      ['logs', t.logs.map((l) => JSON.stringify(l)).join('\n')],
      ['/alerts', await (await fetch(t.adminUrl('/alerts'))).text()],
      ['/status', await (await fetch(t.adminUrl('/status'))).text()],
      ['/health/deep', await (await fetch(t.adminUrl('/health/deep'))).text()],
      ['/metrics', await (await fetch(t.metricsUrl())).text()],
    ];
    for (const args of [['alerts', '--json'], ['alerts'], ['alerts', 'test', 'tg'], ['alerts', 'test', 'mail'], ['alerts', 'test', 'hook']]) {
      const lines: string[] = [];
      const io = { out: (s: string) => lines.push(s), err: (s: string) => lines.push(s), env: {} };
      await runCli([...args, '--url', t.adminAddress, '--config', t.configPath], [alerts], io);
      outputs.push([`caretaker ${args.join(' ')}`, lines.join('\n')]);
    }
    assert.ok(outputs.find(([what]) => what === 'logs')![1].includes('chat not found'), 'the receiver’s reason is logged');
    for (const [what, text] of outputs) for (const secret of SECRETS) assert.ok(!text.includes(secret), `${what} shows ${secret}:\n${text.slice(0, 2000)}`);
  } finally {
    await t.close();
    await recorder.close();
  }
});
