import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startPebble, type PebbleServer } from '../../harness/pebble.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { ariCertId } from '../../../src/modules/certificates/ari.js';
import { configFor, createManager, liveSetMatches } from './fixtures.js';

/**
 * Debian's pebble 2.4 has no ARI, so the directory is served here: pebble's own, plus a `renewalInfo`
 * resource answered by this test with whatever window it wants the agent to see.
 */
let pebble: PebbleServer;
let tmp: TempDir;
let server: http.Server;
let base: string;
const requests: string[] = [];
let answer: { window: { start: string; end: string }; retryAfter: string } | undefined;

before(async () => {
  pebble = await startPebble();
  tmp = await makeTempDir('certs-ari-int');
  const caPem = await readFile(pebble.ca, 'utf8');
  const directory = await new Promise<Record<string, unknown>>((resolve, reject) => {
    https
      .get(pebble.directoryUrl, { ca: caPem }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
      })
      .on('error', reject);
  });
  server = http.createServer((req, res) => {
    if (req.url === '/dir') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...directory, renewalInfo: `${base}/renewal-info/` }));
      return;
    }
    if (req.url?.startsWith('/renewal-info/')) {
      requests.push(req.url.slice('/renewal-info/'.length));
      if (!answer) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'retry-after': answer.retryAfter }).end(JSON.stringify({ suggestedWindow: answer.window }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server?.close();
  await pebble?.stop();
  await tmp?.cleanup();
});

test('ARI: the CA window drives the plan, Retry-After the next poll; a past window renews at once', async () => {
  const dir = path.join(tmp.path, 'certs');
  let now = Date.now();
  const config = configFor(`${base}/dir`, pebble.ca, dir, [
    { name: 'ari', domains: ['ari.example.com'], challenge: { type: 'http-01', standalone: { address: '127.0.0.1', port: pebble.httpPort } } },
  ]);
  const f = await createManager(config, { now: () => new Date(now), random: () => 0.5 });
  try {
    const first = await f.manager.renew('ari');
    assert.equal(first.result, 'success', first.certificate.lastError);
    const cert = new X509Certificate(await readFile(path.join(dir, 'live', 'ari', 'cert.pem')));

    const DAY = 86_400_000;
    answer = { window: { start: new Date(now + 30 * DAY).toISOString(), end: new Date(now + 32 * DAY).toISOString() }, retryAfter: '3600' };
    await f.manager.check();
    assert.deepEqual(requests, [ariCertId(cert)], 'asked for this certificate by its ARI ID');
    let view = f.manager.get('ari');
    assert.equal(view.renewalReason, 'ari');
    assert.equal(view.nextRenewalAt, new Date(now + 31 * DAY).toISOString(), 'the random point (0.5) inside the window');
    assert.equal(view.ari?.nextPollAt, new Date(now + 3_600_000).toISOString());
    assert.equal(view.serial, first.certificate.serial, 'not due yet');

    // Within Retry-After nothing is asked again.
    now += 60_000;
    await f.manager.check();
    assert.equal(requests.length, 1);

    // The CA moves the window into the past (e.g. a revocation): renew at once, replacing the old certificate.
    answer = { window: { start: new Date(now - 2 * DAY).toISOString(), end: new Date(now - DAY).toISOString() }, retryAfter: '3600' };
    now += 3_600_000;
    await f.manager.check();
    assert.equal(requests.length, 2);
    for (let i = 0; i < 100 && f.manager.get('ari').serial === first.certificate.serial; i++) await sleep(100);
    view = f.manager.get('ari');
    assert.notEqual(view.serial, first.certificate.serial, 'renewed because of the ARI window');
    assert.equal(view.state, 'valid');
    assert.equal((await liveSetMatches(dir, 'ari')).ok, true);
  } finally {
    await f.dispose();
  }
});
