import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startAcmeProxy, type AcmeProxy } from '../../harness/acme-proxy.js';
import { startPebble, type PebbleServer } from '../../harness/pebble.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { configFor, createManager, liveSetMatches } from './fixtures.js';

/**
 * Debian's pebble 2.4 knows no profiles: the harness's proxy offers them in the directory's `meta.profiles`
 * and records the newOrder payloads; pebble ignores the `profile` field it does not know and issues.
 */
let pebble: PebbleServer;
let proxy: AcmeProxy;
let tmp: TempDir;

before(async () => {
  pebble = await startPebble();
  proxy = await startAcmeProxy({ upstreamDirectoryUrl: pebble.directoryUrl, upstreamCa: pebble.ca });
  proxy.profiles = { classic: 'the 90-day profile', tlsserver: 'server authentication only' };
  tmp = await makeTempDir('certs-profiles-int');
});

after(async () => {
  await proxy?.stop();
  await pebble?.stop();
  await tmp?.cleanup();
});

const standalone = () => ({ type: 'http-01', standalone: { address: '127.0.0.1', port: pebble.httpPort } });

test('profiles: the newOrder carries the certificate profile, or acme.profile when the certificate names none', async () => {
  const dir = path.join(tmp.path, 'chosen');
  const config = configFor(
    proxy.directoryUrl,
    proxy.ca,
    dir,
    [
      { name: 'server', domains: ['server.example.com'], challenge: standalone(), profile: 'tlsserver' },
      { name: 'default', domains: ['default.example.com'], challenge: standalone() },
    ],
    { profile: 'classic' },
  );
  const f = await createManager(config);
  try {
    const before = proxy.newOrders.length;
    for (const name of ['server', 'default']) {
      const outcome = await f.manager.renew(name);
      assert.equal(outcome.result, 'success', outcome.certificate.lastError);
      assert.equal((await liveSetMatches(dir, name)).ok, true);
    }
    const sent = proxy.newOrders.slice(before);
    assert.deepEqual(
      sent.map((o) => ({ profile: o.profile, identifiers: o.identifiers })),
      [
        { profile: 'tlsserver', identifiers: [{ type: 'dns', value: 'server.example.com' }] },
        { profile: 'classic', identifiers: [{ type: 'dns', value: 'default.example.com' }] },
      ],
    );
    assert.deepEqual(
      f.manager.list().map((c) => [c.name, c.profile]),
      [
        ['server', 'tlsserver'],
        ['default', 'classic'],
      ],
      'GET /certs names the profile each certificate orders with',
    );
  } finally {
    await f.dispose();
  }
});

test('profiles: a profile the CA does not offer fails before any order, naming the offered ones; the live certificate stays', async () => {
  const dir = path.join(tmp.path, 'unknown');
  const cert = { name: 'p', domains: ['p.example.com'], challenge: standalone(), profile: 'tlsserver' };
  const config = configFor(proxy.directoryUrl, proxy.ca, dir, [cert]);
  const f = await createManager(config);
  try {
    const first = await f.manager.renew('p');
    assert.equal(first.result, 'success', first.certificate.lastError);
    const livePath = path.join(dir, 'live', 'p');
    const files = ['cert.pem', 'privkey.pem', 'fullchain.pem'];
    const before = await Promise.all(files.map((file) => readFile(path.join(livePath, file))));
    const ordersBefore = proxy.newOrders.length;

    await f.manager.reload(configFor(proxy.directoryUrl, proxy.ca, dir, [{ ...cert, profile: 'shortlived' }]));
    const outcome = await f.manager.renew('p');
    assert.equal(outcome.result, 'failure');
    assert.equal(
      outcome.certificate.lastError,
      `profile 'shortlived' is not offered by ${proxy.directoryUrl} (offers: classic, tlsserver)`,
    );
    assert.equal(proxy.newOrders.length, ordersBefore, 'no newOrder was sent');
    assert.equal(outcome.certificate.serial, first.certificate.serial);
    const after = await Promise.all(files.map((file) => readFile(path.join(livePath, file))));
    assert.deepEqual(after, before, 'live files untouched');
    assert.deepEqual(await liveSetMatches(dir, 'p'), { ok: true, serial: first.certificate.serial });
  } finally {
    await f.dispose();
  }
});
