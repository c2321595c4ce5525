import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { generateServerCerts, type ServerCerts } from '../../../harness/certs.js';
import { freePort } from '../../../harness/ports.js';
import { startSmtpServer, type SmtpServer } from '../../../harness/smtp.js';
import { makeTempDir, type TempDir } from '../../../harness/tmpdir.js';
import { channelFrom, diskLow, failure, firing, redisDown, signal } from './fixture.js';

const USER = 'alerts@example.com';
const PASSWORD = 'smtp-Secret-Pa55word';

describe('email over a real SMTP server (aiosmtpd: TLS from the test CA, AUTH required)', () => {
  let dir: TempDir;
  let certs: ServerCerts;
  let starttls: SmtpServer;
  let implicit: SmtpServer;
  before(async () => {
    dir = await makeTempDir('smtp');
    certs = await generateServerCerts(dir.path);
    [starttls, implicit] = await Promise.all([
      startSmtpServer({ dir: dir.path, certs, mode: 'starttls', user: USER, password: PASSWORD }),
      startSmtpServer({ dir: dir.path, certs, mode: 'tls', user: USER, password: PASSWORD }),
    ]);
  });
  after(async () => {
    await Promise.all([starttls?.stop(), implicit?.stop()]);
    await dir?.cleanup();
  });

  const entry = (port: number, extra: Record<string, unknown> = {}) => ({
    name: 'mail',
    type: 'email',
    host: '127.0.0.1',
    port,
    auth: { user: USER, password: PASSWORD },
    tls: { ca: certs.ca },
    from: 'caretaker <caretaker@web1.example.com>',
    to: ['ops@example.com', 'oncall@example.com'],
    timeout: '5s',
    ...extra,
  });

  test('STARTTLS verified against the test CA, AUTH, subject and body arrive', async () => {
    const channel = channelFrom(entry(starttls.port));
    assert.equal(channel.target, `smtp://127.0.0.1:${starttls.port}`);
    await channel.send(firing(redisDown, diskLow), signal());
    const [mail] = starttls.received();
    assert.ok(mail, 'no message received');
    assert.equal(mail.tls, true);
    assert.equal(mail.user, USER);
    assert.equal(mail.from, 'caretaker@web1.example.com');
    assert.deepEqual(mail.to, ['ops@example.com', 'oncall@example.com']);
    assert.match(mail.data, /^Subject: \[web1\] FIRING 2: redis down, \+1 more$/m);
    assert.match(mail.data, /^From: caretaker <caretaker@web1\.example\.com>$/m);
    assert.match(mail.data, /\[critical\] redis down \(probe:redis:down\)/);
    assert.match(mail.data, /connect ECONNREFUSED 127\.0\.0\.1:6379/);
    assert.match(mail.data, /\[warning\] \/var has 8 % free/);
  });

  test('implicit TLS (secure: true) on its own port', async () => {
    const channel = channelFrom(entry(implicit.port, { secure: true }));
    assert.equal(channel.target, `smtps://127.0.0.1:${implicit.port}`);
    await channel.send(firing(redisDown), signal());
    const [mail] = implicit.received();
    assert.equal(mail?.tls, true);
    assert.match(mail!.data, /^Subject: \[web1\] FIRING: redis down$/m);
  });

  test('a wrong password → a clear, final error without the password', async () => {
    const before = starttls.received().length;
    const wrong = 'wrong-Pa55word-xyz';
    const err = await failure(channelFrom(entry(starttls.port, { auth: { user: USER, password: wrong } })).send(firing(redisDown), signal()));
    assert.equal(err.retryable, false);
    assert.match(err.message, new RegExp(`^smtp://127\\.0\\.0\\.1:${starttls.port}: SMTP authentication refused \\(.*535.*\\); check auth\\.user and auth\\.password$`));
    assert.ok(!err.message.includes(wrong) && !err.message.includes(PASSWORD));
    assert.equal(starttls.received().length, before);
  });

  test('the server certificate is checked: without the test CA it is refused, final', async () => {
    const err = await failure(channelFrom(entry(starttls.port, { tls: {} })).send(firing(redisDown), signal()));
    assert.equal(err.retryable, false);
    assert.match(err.message, /: TLS failed \(.*certificate.*\); check tls\.ca/);
    assert.ok(!err.message.includes(PASSWORD));
  });

  test('implicit TLS against the STARTTLS port fails as a TLS problem, not a hang', async () => {
    const err = await failure(channelFrom(entry(starttls.port, { secure: true })).send(firing(redisDown), signal()));
    assert.equal(err.retryable, false);
    assert.match(err.message, /TLS failed/);
  });

  test('a 4xx reply is retryable, a 5xx reply final', async () => {
    const busy = await failure(channelFrom(entry(starttls.port, { to: ['busy@example.com'] })).send(firing(redisDown), signal()));
    assert.equal(busy.retryable, true);
    assert.match(busy.message, /SMTP server refused the message \(.*451 4\.3\.0 mailbox busy/);
    const nobody = await failure(channelFrom(entry(starttls.port, { to: ['nobody@example.com'] })).send(firing(redisDown), signal()));
    assert.equal(nobody.retryable, false);
    assert.match(nobody.message, /550 5\.1\.1 no such user/);
  });

  test('a server that never greets → timeout after the channel timeout, retryable', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const started = performance.now();
      const err = await failure(channelFrom(entry(port, { timeout: '1s' })).send(firing(redisDown), signal()));
      const elapsed = performance.now() - started;
      assert.equal(err.retryable, true);
      assert.match(err.message, new RegExp(`^smtp://127\\.0\\.0\\.1:${port}: `));
      assert.ok(elapsed < 3_000, `${elapsed} ms`);
      assert.match(err.message, /greeting never received|no answer within 1000 ms/i);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('connection refused → retryable', async () => {
    const port = await freePort();
    const err = await failure(channelFrom(entry(port)).send(firing(redisDown), signal()));
    assert.equal(err.retryable, true);
    assert.match(err.message, new RegExp(`^smtp://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    assert.ok(!err.message.includes(PASSWORD));
  });
});
