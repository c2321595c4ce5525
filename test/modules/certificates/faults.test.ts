import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../harness/ports.js';
import { startPebble, type PebbleServer } from '../../harness/pebble.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { configFor, createManager, liveSetMatches, pebbleConfig } from './fixtures.js';

/** Every failing attempt must end, with its cause named, well within this. */
const ATTEMPT_LIMIT_MS = 15_000;

let pebble: PebbleServer;
let tmp: TempDir;
let dir: string;
let serial: string;
const challenge = () => ({ type: 'http-01', standalone: { address: '127.0.0.1', port: pebble.httpPort } });

before(async () => {
  pebble = await startPebble();
  tmp = await makeTempDir('certs-faults');
  dir = path.join(tmp.path, 'certs');
  // The certificate every fault must leave untouched.
  const f = await createManager(pebbleConfig(pebble, dir, [{ name: 'app', domains: ['app.example.com'], challenge: challenge() }]));
  const outcome = await f.manager.renew('app');
  await f.dispose();
  assert.equal(outcome.result, 'success', outcome.certificate.lastError);
  serial = outcome.certificate.serial!;
});

after(async () => {
  await pebble?.stop();
  await tmp?.cleanup();
});

/** Renews against `directory` and checks: bounded time, cause in the message, old set kept, retry planned, module alive. */
async function expectCleanFailure(directory: string, cause: RegExp, acme: Record<string, unknown> = {}): Promise<void> {
  const f = await createManager(configFor(directory, undefined, dir, [{ name: 'app', domains: ['app.example.com'], challenge: challenge() }], acme));
  try {
    await f.manager.start();
    const started = Date.now();
    const outcome = await f.manager.renew('app');
    const elapsed = Date.now() - started;
    assert.equal(outcome.result, 'failure');
    assert.ok(elapsed < ATTEMPT_LIMIT_MS, `attempt took ${elapsed} ms`);
    assert.match(outcome.certificate.lastError ?? '', cause);
    assert.equal(outcome.certificate.serial, serial, 'the live certificate is still the old one');
    assert.ok(Date.parse(outcome.certificate.retryAt!) > Date.now(), 'a retry is planned');
    const match = await liveSetMatches(dir, 'app');
    assert.deepEqual(match, { ok: true, serial });
    assert.equal(f.manager.health().status, 'degraded');
    const metrics = await f.tc.registry.metrics();
    assert.match(metrics, /caretaker_cert_renewals_total\{cert="app",result="failure"\} 1/);
    assert.doesNotMatch(metrics, /caretaker_cert_last_error_timestamp_seconds\{cert="app"\} 0\n/);
    // Still running: the scheduled check works and a second attempt fails the same bounded way.
    await f.manager.check();
    assert.equal((await f.manager.renew('app')).result, 'failure');
  } finally {
    await f.dispose();
  }
}

describe('faults', () => {
  test('directory on a dead port: ECONNREFUSED named, old certificate kept', async () => {
    const port = await freePort();
    await expectCleanFailure(`https://127.0.0.1:${port}/dir`, /ECONNREFUSED/);
  });

  test('directory on a port that accepts and never answers: timeout named', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      // The default bound is 10 s per request; 2 s keeps the test short, the path is the same.
      await expectCleanFailure(`https://127.0.0.1:${port}/dir`, /no response from 127\.0\.0\.1:\d+ within 2000 ms \(timeout\)/, { requestTimeout: '2s' });
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });

  test('directory TLS not trusted without caBundle: the TLS cause is named', async () => {
    await expectCleanFailure(pebble.directoryUrl, /certificate|self-signed|verify/i);
  });

  test('pebble killed mid-order fails cleanly; restarted pebble (account forgotten) → re-registers and issues', async () => {
    const hook = path.join(tmp.path, 'kill-pebble.sh');
    await writeFile(hook, `#!/bin/sh\n[ "$1" = set ] && kill -9 ${pebble.pid}\nexit 0\n`);
    await chmod(hook, 0o755);
    const config = pebbleConfig(pebble, dir, [{ name: 'app', domains: ['app.example.com'], challenge: { type: 'dns-01', hook } }]);
    const f = await createManager(config);
    try {
      const started = Date.now();
      const outcome = await f.manager.renew('app');
      assert.equal(outcome.result, 'failure');
      assert.ok(Date.now() - started < ATTEMPT_LIMIT_MS);
      assert.match(outcome.certificate.lastError ?? '', /ECONNREFUSED|ECONNRESET/);
      assert.deepEqual(await liveSetMatches(dir, 'app'), { ok: true, serial });

      const accounts = path.join(f.tc.ctx.stateDir, 'accounts.json');
      const before = JSON.parse(await readFile(accounts, 'utf8')) as Record<string, string>;
      await pebble.down();
      await pebble.up();
      // Same account key and state dir, a CA that has never seen the account: it registers again by itself.
      const g = await createManager(pebbleConfig(pebble, dir, [{ name: 'app', domains: ['app.example.com'], challenge: challenge() }]), {}, { stateDir: f.tc.ctx.stateDir });
      const renewed = await g.manager.renew('app');
      assert.equal(renewed.result, 'success', renewed.certificate.lastError);
      assert.notEqual(renewed.certificate.serial, serial);
      const after = JSON.parse(await readFile(accounts, 'utf8')) as Record<string, string>;
      assert.notEqual(after[pebble.directoryUrl], before[pebble.directoryUrl], 'a new account URL was stored');
      assert.equal((await liveSetMatches(dir, 'app')).ok, true);
      serial = renewed.certificate.serial!;
      await g.dispose();
    } finally {
      await f.dispose();
    }
  });

  test('PEBBLE_WFE_NONCEREJECT=50: 10 of 10 issuances succeed (badNonce retried)', async () => {
    const noisy = await startPebble({ nonceReject: 50 });
    const f = await createManager(
      pebbleConfig(noisy, path.join(tmp.path, 'nonce'), [
        { name: 'nonce', domains: ['nonce.example.com'], challenge: { type: 'http-01', standalone: { address: '127.0.0.1', port: noisy.httpPort } } },
      ]),
    );
    try {
      const results: string[] = [];
      for (let i = 0; i < 10; i++) {
        const outcome = await f.manager.renew('nonce');
        results.push(outcome.result === 'success' ? 'success' : `failure: ${outcome.certificate.lastError}`);
      }
      assert.deepEqual(results, Array(10).fill('success'));
    } finally {
      await f.dispose();
      await noisy.stop();
    }
  });
});
