import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { lstat, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canConnect } from '../../harness/ports.js';
import { startNginx, renderServerBlock } from '../../harness/nginx.js';
import { startPebble, type PebbleServer } from '../../harness/pebble.js';
import { runCommand } from '../../harness/process.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { servedSerial } from '../../../src/modules/certificates/deploy.js';
import { createManager, liveSetMatches, pebbleConfig, writeChalltestsrvHook } from './fixtures.js';

let pebble: PebbleServer;
let tmp: TempDir;
let rootFile: string;

/** `openssl verify` of live/<name>/cert.pem against pebble's root, with live/<name>/chain.pem as intermediates. */
async function verifyChain(dir: string, name: string): Promise<void> {
  const live = path.join(dir, 'live', name);
  const stdout = await runCommand('openssl', ['verify', '-CAfile', rootFile, '-untrusted', path.join(live, 'chain.pem'), path.join(live, 'cert.pem')]);
  assert.match(stdout, /: OK/);
}

before(async () => {
  pebble = await startPebble();
  tmp = await makeTempDir('certs-int');
  rootFile = path.join(tmp.path, 'pebble-root.pem');
  await writeFile(rootFile, await pebble.rootCertPem());
});

after(async () => {
  await pebble?.stop();
  await tmp?.cleanup();
});

describe('issuance against pebble', () => {
  test('http-01 standalone: a matching set in the certbot layout, chain verifies, listener only during the order', async () => {
    const dir = path.join(tmp.path, 'standalone');
    const challenge = { type: 'http-01', standalone: { address: '127.0.0.1', port: pebble.httpPort } };
    const f = await createManager(pebbleConfig(pebble, dir, [{ name: 'web', domains: ['web.example.com', 'www.example.com'], challenge }]));
    try {
      const outcome = await f.manager.renew('web');
      assert.equal(outcome.result, 'success', outcome.certificate.lastError);
      assert.equal(outcome.certificate.state, 'valid');
      assert.ok(outcome.certificate.serial);
      assert.equal(await canConnect(pebble.httpPort), false, 'standalone listener closed after the order');

      const match = await liveSetMatches(dir, 'web');
      assert.equal(match.ok, true);
      assert.equal(match.serial, outcome.certificate.serial);
      await verifyChain(dir, 'web');

      assert.ok((await lstat(path.join(dir, 'live', 'web'))).isSymbolicLink(), 'live/<name> is one symlink');
      const live = path.join(dir, 'live', 'web');
      assert.equal((await stat(path.join(live, 'privkey.pem'))).mode & 0o777, 0o600);
      for (const file of ['cert.pem', 'chain.pem', 'fullchain.pem']) assert.equal((await stat(path.join(live, file))).mode & 0o777, 0o644);
      const cert = new X509Certificate(await readFile(path.join(live, 'cert.pem')));
      assert.match(cert.subjectAltName ?? '', /DNS:web\.example\.com/);
      assert.match(cert.subjectAltName ?? '', /DNS:www\.example\.com/);
      assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.equal((await stat(path.join(f.tc.ctx.stateDir, 'account.key'))).mode & 0o777, 0o600);

      const metrics = await f.tc.registry.metrics();
      assert.match(metrics, new RegExp(`caretaker_cert_not_after_timestamp_seconds\\{cert="web"\\} ${Math.floor(Date.parse(cert.validTo) / 1000)}`));
      assert.match(metrics, /caretaker_cert_renewals_total\{cert="web",result="success"\} 1/);
      assert.match(metrics, /caretaker_cert_next_renewal_timestamp_seconds\{cert="web"\} \d+/);

      // A second order: new version, new key (reuseKey off), previous version kept for rollback.
      const second = await f.manager.renew('web');
      assert.equal(second.result, 'success', second.certificate.lastError);
      assert.notEqual(second.certificate.serial, outcome.certificate.serial);
      assert.deepEqual((await readdir(path.join(dir, 'archive', 'web'))).sort(), ['1', '2']);
      const [oldKey, newKey] = await Promise.all(['1', '2'].map((v) => readFile(path.join(dir, 'archive', 'web', v, 'privkey.pem'), 'utf8')));
      assert.notEqual(oldKey, newKey);
    } finally {
      await f.dispose();
    }
  });

  test('http-01 webroot served by nginx; token files removed afterwards; rsa-2048 key', async () => {
    const dir = path.join(tmp.path, 'webroot');
    const webroot = path.join(tmp.path, 'www');
    const nginx = await startNginx({ serverBlocks: renderServerBlock(pebble.httpPort, { root: webroot }) });
    const f = await createManager(
      pebbleConfig(pebble, dir, [{ name: 'site', domains: ['site.example.com'], challenge: { type: 'http-01', webroot }, keyType: 'rsa-2048' }]),
    );
    try {
      const outcome = await f.manager.renew('site');
      assert.equal(outcome.result, 'success', outcome.certificate.lastError);
      assert.equal((await liveSetMatches(dir, 'site')).ok, true);
      await verifyChain(dir, 'site');
      const cert = new X509Certificate(await readFile(path.join(dir, 'live', 'site', 'cert.pem')));
      assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
      assert.deepEqual(await readdir(path.join(webroot, '.well-known', 'acme-challenge')), []);
      assert.match(await readFile(nginx.accessLog, 'utf8'), /GET \/\.well-known\/acme-challenge\/\S+ HTTP\/1\.1" 200/);
    } finally {
      await f.dispose();
      await nginx.stop();
    }
  });

  test('dns-01 through a hook talking to challtestsrv, with a wildcard; ecdsa-p384', async () => {
    const dir = path.join(tmp.path, 'dns');
    const hook = await writeChalltestsrvHook(tmp.path, pebble.challtestsrv.managementUrl);
    const f = await createManager(
      pebbleConfig(pebble, dir, [{ name: 'wild', domains: ['dns.example.com', '*.dns.example.com'], challenge: { type: 'dns-01', hook }, keyType: 'ecdsa-p384' }]),
    );
    try {
      const outcome = await f.manager.renew('wild');
      assert.equal(outcome.result, 'success', outcome.certificate.lastError);
      assert.equal((await liveSetMatches(dir, 'wild')).ok, true);
      await verifyChain(dir, 'wild');
      const cert = new X509Certificate(await readFile(path.join(dir, 'live', 'wild', 'cert.pem')));
      assert.match(cert.subjectAltName ?? '', /DNS:\*\.dns\.example\.com/);
      assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
    } finally {
      await f.dispose();
    }
  });

  test('end to end: nginx serves live/<name>/fullchain.pem, a forced renewal deploys and nginx then serves the new serial', async () => {
    const dir = path.join(tmp.path, 'e2e');
    const challenge = { type: 'http-01', standalone: { address: '127.0.0.1', port: pebble.httpPort } };
    const first = await createManager(pebbleConfig(pebble, dir, [{ name: 'e2e', domains: ['e2e.example.com'], challenge }]));
    const initial = await first.manager.renew('e2e');
    await first.dispose();
    assert.equal(initial.result, 'success', initial.certificate.lastError);

    const live = path.join(dir, 'live', 'e2e');
    const nginx = await startNginx({
      sites: [{ root: tmp.path, ssl: { cert: path.join(live, 'fullchain.pem'), key: path.join(live, 'privkey.pem') } }],
    });
    const target = `127.0.0.1:${nginx.ports[0]}`;
    const f = await createManager(
      pebbleConfig(pebble, dir, [{ name: 'e2e', domains: ['e2e.example.com'], challenge, deploy: { command: nginx.reloadCommand, timeout: '10s', verify: target } }]),
    );
    try {
      await f.manager.start();
      assert.equal(await servedSerial(target, 'e2e.example.com'), initial.certificate.serial);
      const renewed = await f.manager.renew('e2e');
      assert.equal(renewed.result, 'success', renewed.certificate.lastError);
      assert.notEqual(renewed.certificate.serial, initial.certificate.serial);
      assert.deepEqual(renewed.certificate.deploy && { ok: renewed.certificate.deploy.ok }, { ok: true }, renewed.certificate.deploy?.message);
      assert.equal(await servedSerial(target, 'e2e.example.com'), renewed.certificate.serial);
    } finally {
      await f.dispose();
      await nginx.stop();
    }
  });
});
