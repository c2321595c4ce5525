import assert from 'node:assert/strict';
import { test } from 'node:test';
import { channelSchema } from '../../../../src/modules/alerts/channels/index.js';

/** The issues of one entry as `path: message` lines, the way the loader prints them. */
function problems(entry: Record<string, unknown>): string[] {
  const result = channelSchema.safeParse(entry);
  assert.ok(!result.success, 'accepted');
  return result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

const SLACK_PATH = '/services/T0001/B0002/XXXXsecretXXXX';

test('a URL that is not http(s) is refused at its key, without repeating the URL', () => {
  for (const [entry, key] of [
    [{ name: 'a', type: 'webhook', url: `hooks.example.com${SLACK_PATH}` }, 'url'],
    [{ name: 'a', type: 'slack', url: `ftp://hooks.slack.com${SLACK_PATH}` }, 'url'],
    [{ name: 'a', type: 'ntfy', topic: 'x', server: 'ntfy.sh' }, 'server'],
    [{ name: 'a', type: 'telegram', token: '1:abc', chatId: 1, apiUrl: 'api.telegram.org' }, 'apiUrl'],
  ] as const) {
    const lines = problems(entry);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, new RegExp(`^${key}: expected .*http:// or https://`));
    assert.ok(!lines[0]!.includes('XXXXsecretXXXX'));
  }
});

test('telegram: a missing chat id and a malformed token are refused at their keys', () => {
  assert.deepEqual(problems({ name: 'tg', type: 'telegram', token: '123:abc' }), [
    'chatId: missing the chat id: the numeric id of the chat or group (e.g. -1001234567890) or @channelname',
  ]);
  assert.deepEqual(problems({ name: 'tg', type: 'telegram', token: '123:abc', chatId: 'ops' }), ['chatId: expected a numeric chat id (e.g. -1001234567890) or @channelname']);
  const [line] = problems({ name: 'tg', type: 'telegram', token: 'not-a-token-secret', chatId: 1 });
  assert.match(line!, /^token: not a bot token/);
  assert.ok(!line!.includes('not-a-token-secret'));
  assert.match(problems({ name: 'tg', type: 'telegram', chatId: 1 })[0]!, /^token: missing the bot token/);
});

test('email: without `to`, with an empty `to`, or a bad address → refused at the key', () => {
  const base = { name: 'mail', type: 'email', host: 'smtp.example.com', from: 'caretaker@example.com' };
  assert.deepEqual(problems(base), ['to: missing the recipients: to is a list of addresses, e.g. [ops@example.com]']);
  assert.deepEqual(problems({ ...base, to: [] }), ['to: name at least one recipient']);
  assert.match(problems({ ...base, to: ['ops'] })[0]!, /^to\.0: expected an email address/);
  assert.match(problems({ ...base, from: 'nobody', to: ['ops@example.com'] })[0]!, /^from: expected an email address/);
  assert.deepEqual(problems({ ...base, to: ['ops@example.com'], requireTls: false, auth: { user: 'u', password: 'p' } }), [
    'requireTls: AUTH without TLS would send the password in clear: keep requireTls true or set secure: true',
  ]);
  assert.ok(channelSchema.safeParse({ ...base, to: ['Ops <ops@example.com>'] }).success);
});

test('a webhook header value with a line break is refused at its key', () => {
  assert.deepEqual(problems({ name: 'h', type: 'webhook', url: 'https://example.com/h', headers: { 'X-Token': 'a\r\nX-Evil: 1' } }), ['headers.X-Token: a header value is one line']);
});

test('unknown type and unknown keys are refused', () => {
  assert.match(problems({ name: 'x', type: 'pager' })[0]!, /^type: unknown channel type: expected webhook, slack, telegram, ntfy or email/);
  assert.match(problems({ name: 'x', type: 'slack', url: 'https://hooks.slack.com/x', channel: '#ops' })[0]!, /channel/);
});

test('defaults: 10s timeout, caretaker format, Telegram and ntfy public servers, submission port via STARTTLS', () => {
  const hook = channelSchema.parse({ name: 'h', type: 'webhook', url: 'https://example.com/h' });
  assert.equal(hook.timeout, 10_000);
  assert.equal(hook.type === 'webhook' && hook.format, 'caretaker');
  const tg = channelSchema.parse({ name: 't', type: 'telegram', token: '1:a', chatId: 1 });
  assert.equal(tg.type === 'telegram' && tg.apiUrl, 'https://api.telegram.org');
  const mail = channelSchema.parse({ name: 'm', type: 'email', host: 'smtp.example.com', from: 'a@example.com', to: ['b@example.com'] });
  assert.ok(mail.type === 'email' && mail.secure === false && mail.requireTls === true && mail.tls.verify === true);
});
