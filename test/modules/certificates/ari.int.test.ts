import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startAcmeProxy, type AcmeProxy } from '../../harness/acme-proxy.js';
import { startPebble, type PebbleServer } from '../../harness/pebble.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { ariCertId } from '../../../src/modules/certificates/ari.js';
import { configFor, createManager, liveSetMatches } from './fixtures.js';

/**
 * Debian's pebble 2.4 has no ARI, so the harness's proxy adds a `renewalInfo` resource to pebble's directory,
 * answered with whatever window this test sets, and records what reaches pebble's newOrder.
 */
let pebble: PebbleServer;
let proxy: AcmeProxy;
let tmp: TempDir;

before(async () => {
  pebble = await startPebble();
  proxy = await startAcmeProxy({ upstreamDirectoryUrl: pebble.directoryUrl, upstreamCa: pebble.ca });
  tmp = await makeTempDir('certs-ari-int');
});

after(async () => {
  await proxy?.stop();
  await pebble?.stop();
  await tmp?.cleanup();
});

test('ARI: the CA window drives the plan, Retry-After the next poll; a past window renews at once with replaces', async () => {
  const dir = path.join(tmp.path, 'certs');
  let now = Date.now();
  const config = configFor(proxy.directoryUrl, proxy.ca, dir, [
    { name: 'ari', domains: ['ari.example.com'], challenge: { type: 'http-01', standalone: { address: '127.0.0.1', port: pebble.httpPort } } },
  ]);
  const f = await createManager(config, { now: () => new Date(now), random: () => 0.5 });
  try {
    const first = await f.manager.renew('ari');
    assert.equal(first.result, 'success', first.certificate.lastError);
    assert.equal(proxy.newOrders.length, 1);
    assert.equal(proxy.newOrders[0]!.replaces, undefined, 'nothing to replace on the first order');
    const cert = new X509Certificate(await readFile(path.join(dir, 'live', 'ari', 'cert.pem')));
    const certId = ariCertId(cert);
    assert.ok(certId);

    const DAY = 86_400_000;
    proxy.renewalInfo = { window: { start: new Date(now + 30 * DAY).toISOString(), end: new Date(now + 32 * DAY).toISOString() }, retryAfter: '3600' };
    await f.manager.check();
    assert.deepEqual(proxy.renewalInfoRequests, [certId], 'asked for this certificate by its ARI ID');
    let view = f.manager.get('ari');
    assert.equal(view.renewalReason, 'ari');
    assert.equal(view.nextRenewalAt, new Date(now + 31 * DAY).toISOString(), 'the random point (0.5) inside the window');
    assert.equal(view.ari?.nextPollAt, new Date(now + 3_600_000).toISOString());
    assert.equal(view.serial, first.certificate.serial, 'not due yet');

    // Within Retry-After nothing is asked again.
    now += 60_000;
    await f.manager.check();
    assert.equal(proxy.renewalInfoRequests.length, 1);

    // The CA moves the window into the past (e.g. a revocation): renew at once, replacing the old certificate.
    proxy.renewalInfo = { window: { start: new Date(now - 2 * DAY).toISOString(), end: new Date(now - DAY).toISOString() }, retryAfter: '3600' };
    now += 3_600_000;
    await f.manager.check();
    assert.equal(proxy.renewalInfoRequests.length, 2);
    for (let i = 0; i < 100 && f.manager.get('ari').serial === first.certificate.serial; i++) await sleep(100);
    view = f.manager.get('ari');
    assert.notEqual(view.serial, first.certificate.serial, 'renewed because of the ARI window');
    assert.equal(view.state, 'valid');
    // One newOrder, carrying replaces: pebble took it (a refusal would show as a second order without it).
    assert.equal(proxy.newOrders.length, 2);
    assert.equal(proxy.newOrders[1]!.replaces, certId, 'the new order names the old certificate by its ARI ID');
    const live = await liveSetMatches(dir, 'ari');
    assert.equal(live.ok, true);
    assert.equal(live.serial, view.serial);
  } finally {
    await f.dispose();
  }
});

test('ARI: a forced renewal also names the certificate it replaces', async () => {
  const dir = path.join(tmp.path, 'forced');
  const config = configFor(proxy.directoryUrl, proxy.ca, dir, [
    { name: 'forced', domains: ['forced.example.com'], challenge: { type: 'http-01', standalone: { address: '127.0.0.1', port: pebble.httpPort } } },
  ]);
  const f = await createManager(config);
  try {
    proxy.renewalInfo = undefined;
    const first = await f.manager.renew('forced');
    assert.equal(first.result, 'success', first.certificate.lastError);
    const certId = ariCertId(new X509Certificate(await readFile(path.join(dir, 'live', 'forced', 'cert.pem'))));
    const before = proxy.newOrders.length;
    const second = await f.manager.renew('forced');
    assert.equal(second.result, 'success', second.certificate.lastError);
    assert.deepEqual(proxy.newOrders.slice(before).map((o) => o.replaces), [certId]);
    const live = await liveSetMatches(dir, 'forced');
    assert.deepEqual(live, { ok: true, serial: second.certificate.serial });
  } finally {
    await f.dispose();
  }
});
