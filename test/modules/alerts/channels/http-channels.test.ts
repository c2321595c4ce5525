import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startHttpRecorder, type HttpRecorder } from '../../../harness/http-recorder.js';
import { freePort } from '../../../harness/ports.js';
import { channelFrom, diskLow, failure, firing, redisDown, resolved, signal } from './fixture.js';

const SLACK_TOKEN = 'T0001/B0002/XXXXsecretslackpathXXXX';
const HOOK_TOKEN = 'hooktoken-4f9a2c7e1b';
const BOT_TOKEN = '123456789:AAHsecretBotTokenPart_abcdefghijk';
const NTFY_TOKEN = 'tk_secretntfytoken0123456789';

let recorder: HttpRecorder;
before(async () => {
  recorder = await startHttpRecorder();
});
after(() => recorder.close());
beforeEach(() => recorder.reset());

function assertNoSecret(text: string) {
  for (const secret of [SLACK_TOKEN, HOOK_TOKEN, BOT_TOKEN, NTFY_TOKEN, 'XXXXsecretslackpathXXXX', 'AAHsecretBotTokenPart_abcdefghijk']) {
    assert.ok(!text.includes(secret), `a secret in: ${text}`);
  }
}

describe('webhook', () => {
  test('caretaker format: one POST with status, host and every alert of the group', async () => {
    const channel = channelFrom({ name: 'hook', type: 'webhook', url: `${recorder.url}/hooks/${HOOK_TOKEN}`, headers: { Authorization: 'Bearer abc123xyz' } });
    assert.equal(channel.target, recorder.url);
    await channel.send(firing(redisDown, diskLow), signal());
    const [request] = recorder.requests;
    assert.equal(request!.method, 'POST');
    assert.equal(request!.url, `/hooks/${HOOK_TOKEN}`);
    assert.equal(request!.headers['content-type'], 'application/json');
    assert.equal(request!.headers.authorization, 'Bearer abc123xyz');
    const body = JSON.parse(request!.body);
    assert.equal(body.version, '1');
    assert.equal(body.status, 'firing');
    assert.equal(body.host, 'web1');
    assert.equal(body.severity, 'critical');
    assert.equal(body.test, false);
    assert.match(body.summary, /^\[web1\] FIRING 2: redis down, \+1 more$/);
    // Every field of the condition, nothing else.
    assert.deepEqual(body.alerts[0], redisDown);
    assert.equal(body.alerts[1].key, 'host:fs:/var');
    assert.equal('item' in body.alerts[1], false);
  });

  test('caretaker format: a resolution carries endsAt', async () => {
    const channel = channelFrom({ name: 'hook', type: 'webhook', url: `${recorder.url}/h` });
    await channel.send(resolved(redisDown), signal());
    const body = JSON.parse(recorder.requests[0]!.body);
    assert.equal(body.status, 'resolved');
    assert.equal(body.alerts[0].status, 'resolved');
    assert.equal(body.alerts[0].endsAt, '2026-12-01T11:05:00.000Z');
  });

  test("alertmanager format: Alertmanager's webhook payload version 4", async () => {
    const channel = channelFrom({ name: 'am', type: 'webhook', format: 'alertmanager', url: `${recorder.url}/am` });
    await channel.send(firing(redisDown, diskLow), signal());
    const body = JSON.parse(recorder.requests[0]!.body);
    assert.deepEqual(Object.keys(body).sort(), [
      'alerts', 'commonAnnotations', 'commonLabels', 'externalURL', 'groupKey', 'groupLabels', 'receiver', 'status', 'truncatedAlerts', 'version',
    ]);
    assert.equal(body.version, '4');
    assert.equal(body.status, 'firing');
    assert.equal(body.receiver, 'am');
    assert.equal(body.groupKey, '{}:{instance="web1"}');
    assert.equal(body.truncatedAlerts, 0);
    assert.deepEqual(body.groupLabels, { instance: 'web1' });
    assert.deepEqual(body.commonLabels, { instance: 'web1' });
    assert.deepEqual(body.commonAnnotations, {});
    const [first] = body.alerts;
    assert.deepEqual(Object.keys(first).sort(), ['annotations', 'endsAt', 'fingerprint', 'generatorURL', 'labels', 'startsAt', 'status']);
    assert.deepEqual(first.labels, { alertname: 'probe:redis:down', severity: 'critical', module: 'probes', instance: 'web1', item: 'redis' });
    assert.deepEqual(first.annotations, { summary: 'redis down', description: 'connect ECONNREFUSED 127.0.0.1:6379' });
    assert.equal(first.startsAt, '2026-12-01T11:00:00.000Z');
    assert.equal(first.endsAt, '0001-01-01T00:00:00Z');
    assert.match(first.fingerprint, /^[0-9a-f]{16}$/);
    assert.notEqual(first.fingerprint, body.alerts[1].fingerprint);

    await channel.send(resolved(redisDown), signal());
    const again = JSON.parse(recorder.requests[1]!.body);
    assert.equal(again.alerts[0].fingerprint, first.fingerprint, 'the same condition keeps its fingerprint');
    assert.equal(again.alerts[0].endsAt, '2026-12-01T11:05:00.000Z');
    assert.equal(again.commonLabels.alertname, 'probe:redis:down');
  });
});

test('slack: {text} to the incoming webhook path, markup characters escaped', async () => {
  const channel = channelFrom({ name: 'ops', type: 'slack', url: `${recorder.url}/services/${SLACK_TOKEN}` });
  assert.equal(channel.target, recorder.url);
  await channel.send(firing({ ...redisDown, detail: 'a <b> & c' }), signal());
  const [request] = recorder.requests;
  assert.equal(request!.method, 'POST');
  assert.equal(request!.url, `/services/${SLACK_TOKEN}`);
  assert.equal(request!.headers['content-type'], 'application/json');
  const body = JSON.parse(request!.body);
  assert.deepEqual(Object.keys(body), ['text']);
  assert.match(body.text, /^\[web1\] FIRING: redis down\n/);
  assert.match(body.text, /\[critical\] redis down \(probe:redis:down\)/);
  assert.match(body.text, /a &lt;b&gt; &amp; c/);
});

describe('telegram', () => {
  test('sendMessage on /bot<token>/sendMessage with chat_id and plain text', async () => {
    const channel = channelFrom({ name: 'tg', type: 'telegram', token: BOT_TOKEN, chatId: -1001234567890, apiUrl: recorder.url });
    assert.equal(channel.target, recorder.url);
    recorder.respond(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true,"result":{}}' }));
    await channel.send(firing(redisDown), signal());
    const [request] = recorder.requests;
    assert.equal(request!.method, 'POST');
    assert.equal(request!.url, `/bot${BOT_TOKEN}/sendMessage`);
    assert.equal(request!.headers['content-type'], 'application/json');
    const body = JSON.parse(request!.body);
    assert.equal(body.chat_id, -1001234567890);
    assert.equal(body.parse_mode, undefined);
    assert.deepEqual(body.link_preview_options, { is_disabled: true });
    assert.equal(body.disable_notification, false);
    assert.match(body.text, /^\[web1\] FIRING: redis down\n/);
    assert.match(body.text, /since 2026-12-01 11:00:00 UTC/);
  });

  test('silent: a warning goes without sound, a critical one with', async () => {
    const channel = channelFrom({ name: 'tg', type: 'telegram', token: BOT_TOKEN, chatId: '@opschannel', apiUrl: `${recorder.url}/` , silent: true });
    await channel.send(firing(diskLow), signal());
    await channel.send(firing(diskLow, redisDown), signal());
    assert.equal(recorder.requests[0]!.url, `/bot${BOT_TOKEN}/sendMessage`);
    assert.equal(JSON.parse(recorder.requests[0]!.body).chat_id, '@opschannel');
    assert.equal(JSON.parse(recorder.requests[0]!.body).disable_notification, true);
    assert.equal(JSON.parse(recorder.requests[1]!.body).disable_notification, false);
  });

  test('429 with parameters.retry_after → retryable after that many seconds', async () => {
    recorder.respond(() => ({
      status: 429,
      headers: { 'content-type': 'application/json' },
      body: '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}',
    }));
    const channel = channelFrom({ name: 'tg', type: 'telegram', token: BOT_TOKEN, chatId: 42, apiUrl: recorder.url });
    const err = await failure(channel.send(firing(redisDown), signal()));
    assert.equal(err.retryable, true);
    assert.equal(err.retryAfterMs, 7_000);
    assert.equal(err.message, `${recorder.url} answered HTTP 429: Too Many Requests: retry after 7`);
  });

  test("400 chat not found → final, with Telegram's reason and no token", async () => {
    recorder.respond(() => ({ status: 400, body: '{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}' }));
    const channel = channelFrom({ name: 'tg', type: 'telegram', token: BOT_TOKEN, chatId: 42, apiUrl: recorder.url });
    const err = await failure(channel.send(firing(redisDown), signal()));
    assert.equal(err.retryable, false);
    assert.equal(err.message, `${recorder.url} answered HTTP 400: Bad Request: chat not found`);
  });

  test('401 with the token echoed back → final, token scrubbed', async () => {
    recorder.respond((request) => ({ status: 401, body: `{"ok":false,"description":"Unauthorized ${request.url}"}` }));
    const channel = channelFrom({ name: 'tg', type: 'telegram', token: BOT_TOKEN, chatId: 42, apiUrl: recorder.url });
    const err = await failure(channel.send(firing(redisDown), signal()));
    assert.equal(err.retryable, false);
    assertNoSecret(err.message);
    assert.match(err.message, /HTTP 401: Unauthorized/);
  });
});

test('ntfy: POST to <server>/<topic> with Title, Priority, Tags and the bearer token', async () => {
  const channel = channelFrom({ name: 'phone', type: 'ntfy', server: recorder.url, topic: 'caretaker-web1', token: NTFY_TOKEN });
  assert.equal(channel.target, recorder.url);
  await channel.send(firing(redisDown), signal());
  await channel.send(firing(diskLow), signal());
  await channel.send(resolved(redisDown), signal());
  await channel.send(firing({ ...diskLow, summary: '/var a 8 % libre — pénurie' }), signal());
  const [critical, warning, done, accented] = recorder.requests;
  assert.equal(critical!.method, 'POST');
  assert.equal(critical!.url, '/caretaker-web1');
  assert.equal(critical!.headers.title, '[web1] FIRING: redis down');
  assert.equal(critical!.headers.priority, '5');
  assert.equal(critical!.headers.tags, 'rotating_light');
  assert.equal(critical!.headers.authorization, `Bearer ${NTFY_TOKEN}`);
  assert.match(String(critical!.headers['content-type']), /^text\/plain/);
  assert.match(critical!.body, /^\[critical\] redis down \(probe:redis:down\)\n {2}connect ECONNREFUSED/);
  assert.equal(warning!.headers.priority, '4');
  assert.equal(warning!.headers.tags, 'warning');
  assert.equal(done!.headers.priority, '3');
  assert.equal(done!.headers.tags, 'white_check_mark');
  assert.match(done!.body, /^\[resolved\] redis down/);
  const title = String(accented!.headers.title);
  assert.match(title, /^=\?UTF-8\?B\?.+\?=$/);
  assert.equal(Buffer.from(title.slice(10, -2), 'base64').toString('utf8'), '[web1] FIRING: /var a 8 % libre — pénurie');
});

test('ntfy: a summary spanning lines still makes a one-line Title header (a newline would make every send fail)', async () => {
  await channelFrom({ name: 'phone', type: 'ntfy', server: recorder.url, topic: 't' }).send(firing({ ...redisDown, summary: 'redis down\r\nsecond line' }), signal());
  assert.equal(recorder.requests[0]!.headers.title, '[web1] FIRING: redis down second line');
});

test('ntfy without a token sends no Authorization; the default server is ntfy.sh', async () => {
  assert.equal(channelFrom({ name: 'phone', type: 'ntfy', topic: 'caretaker-web1' }).target, 'https://ntfy.sh');
  await channelFrom({ name: 'phone', type: 'ntfy', server: recorder.url, topic: 'open' }).send(firing(redisDown), signal());
  assert.equal(recorder.requests[0]!.headers.authorization, undefined);
});

describe('errors: what is retried, what waits, and no secret in any message', () => {
  const channels = () => [
    channelFrom({ name: 'hook', type: 'webhook', url: `${recorder.url}/hooks/${HOOK_TOKEN}`, timeout: '1s' }),
    channelFrom({ name: 'ops', type: 'slack', url: `${recorder.url}/services/${SLACK_TOKEN}`, timeout: '1s' }),
    channelFrom({ name: 'tg', type: 'telegram', token: BOT_TOKEN, chatId: 42, apiUrl: recorder.url, timeout: '1s' }),
    channelFrom({ name: 'phone', type: 'ntfy', server: recorder.url, topic: 'caretaker-web1', token: NTFY_TOKEN, timeout: '1s' }),
  ];

  test('500 → retryable, no wait hint', async () => {
    recorder.respond(() => ({ status: 500, body: 'internal error' }));
    for (const channel of channels()) {
      const err = await failure(channel.send(firing(redisDown), signal()));
      assert.equal(err.retryable, true, channel.type);
      assert.equal(err.retryAfterMs, undefined);
      assert.equal(err.message, `${recorder.url} answered HTTP 500: internal error`);
    }
  });

  test('429 with Retry-After in seconds → retryAfterMs', async () => {
    recorder.respond(() => ({ status: 429, headers: { 'retry-after': '12' } }));
    for (const channel of channels()) {
      const err = await failure(channel.send(firing(redisDown), signal()));
      assert.equal(err.retryable, true, channel.type);
      assert.equal(err.retryAfterMs, 12_000, channel.type);
    }
  });

  test('429 with Retry-After as an HTTP date → retryAfterMs until then', async () => {
    const at = new Date(Date.now() + 60_000).toUTCString();
    recorder.respond(() => ({ status: 429, headers: { 'retry-after': at } }));
    for (const channel of channels()) {
      const err = await failure(channel.send(firing(redisDown), signal()));
      assert.equal(err.retryable, true);
      assert.ok(err.retryAfterMs! > 55_000 && err.retryAfterMs! <= 60_000, `${channel.type}: ${err.retryAfterMs}`);
    }
  });

  test('400 → not retryable; a receiver echoing the URL does not leak it', async () => {
    recorder.respond((request) => ({ status: 400, body: `bad request for ${request.url} ${String(request.headers.authorization)}` }));
    for (const channel of channels()) {
      const err = await failure(channel.send(firing(redisDown), signal()));
      assert.equal(err.retryable, false, channel.type);
      assert.match(err.message, /answered HTTP 400: bad request for/);
      assertNoSecret(err.message);
    }
  });

  test('a redirect is not followed (the message would go where nobody configured) and is final', async () => {
    recorder.respond(() => ({ status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere' } }));
    const err = await failure(channels()[0]!.send(firing(redisDown), signal()));
    assert.equal(err.retryable, false);
    assert.equal(recorder.requests.length, 1);
  });

  test('connection refused → retryable, named by code and scheme://host', async () => {
    const port = await freePort();
    const dead = [
      channelFrom({ name: 'hook', type: 'webhook', url: `http://127.0.0.1:${port}/hooks/${HOOK_TOKEN}` }),
      channelFrom({ name: 'ops', type: 'slack', url: `http://127.0.0.1:${port}/services/${SLACK_TOKEN}` }),
      channelFrom({ name: 'tg', type: 'telegram', token: BOT_TOKEN, chatId: 42, apiUrl: `http://127.0.0.1:${port}` }),
      channelFrom({ name: 'phone', type: 'ntfy', server: `http://127.0.0.1:${port}`, topic: 'caretaker-web1' }),
    ];
    for (const channel of dead) {
      const err = await failure(channel.send(firing(redisDown), signal()));
      assert.equal(err.retryable, true);
      assert.equal(err.message, `http://127.0.0.1:${port}: ECONNREFUSED`);
    }
  });

  test('a hung receiver → timeout after the channel timeout, retryable', async () => {
    recorder.respond(() => 'hang');
    for (const channel of channels()) {
      const started = performance.now();
      const err = await failure(channel.send(firing(redisDown), signal()));
      const elapsed = performance.now() - started;
      assert.equal(err.retryable, true);
      assert.equal(err.message, `${recorder.url}: no answer within 1000 ms`);
      assert.ok(elapsed >= 900 && elapsed < 3_000, `${channel.type}: ${elapsed} ms`);
    }
  });

  test("the caller's signal aborts a send", async () => {
    recorder.respond(() => 'hang');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const err = await failure(channels()[0]!.send(firing(redisDown), controller.signal));
    assert.equal(err.message, `${recorder.url}: delivery aborted`);
  });
});
