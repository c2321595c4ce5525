import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConditionBus } from '../../../src/agent/kit/conditions.js';
import { expiryLevel } from '../../../src/modules/certificates/cert-conditions.js';
import { freePort } from '../../harness/ports.js';
import { startPebble, type PebbleServer } from '../../harness/pebble.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { configFor, createManager, pebbleConfig } from './fixtures.js';

const DAY = 86_400_000;

test('expiry: critical from a sixth of the lifetime left; a warning from a third only once renewal failed', () => {
  const validity = { notBefore: new Date(0), notAfter: new Date(90 * DAY) };
  assert.equal(expiryLevel(validity, new Date(59 * DAY), true), 'fine', 'more than a third left');
  assert.equal(expiryLevel(validity, new Date(60 * DAY), false), 'undecided', 'a third left, renewal not failed: the renewal due decides');
  assert.equal(expiryLevel(validity, new Date(60 * DAY), true), 'warning');
  assert.equal(expiryLevel(validity, new Date(75 * DAY), false), 'critical');
  assert.equal(expiryLevel(validity, new Date(91 * DAY), false), 'critical', 'expired');
});

async function until(bus: ConditionBus, what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(bus.firing())}`);
    await sleep(20);
  }
}

describe('certificate conditions against pebble', () => {
  let pebble: PebbleServer;
  let tmp: TempDir;
  let dir: string;
  const challenge = () => ({ type: 'http-01', standalone: { address: '127.0.0.1', port: pebble.httpPort } });
  const cert = (extra: Record<string, unknown> = {}) => ({ name: 'app', domains: ['app.example.com'], challenge: challenge(), ...extra });

  before(async () => {
    pebble = await startPebble();
    tmp = await makeTempDir('certs-conditions');
    dir = path.join(tmp.path, 'certs');
  });

  after(async () => {
    await pebble?.stop();
    await tmp?.cleanup();
  });

  test('ACME server dead, clock moved on: renewal fires with the cause, expiry a warning at a third left then critical at a sixth; a fresh certificate resolves both', async () => {
    const issued = await createManager(pebbleConfig(pebble, dir, [cert()]));
    const first = await issued.manager.renew('app');
    await issued.dispose();
    assert.equal(first.result, 'success', first.certificate.lastError);
    const notBefore = Date.parse(first.certificate.notBefore!);
    const life = Date.parse(first.certificate.notAfter!) - notBefore;

    let now = notBefore + life * 0.7;
    const dead = `http://127.0.0.1:${await freePort()}/dir`;
    const f = await createManager(configFor(dead, undefined, dir, [cert()]), { now: () => new Date(now), retryBaseMs: 1_000, retryMaxMs: 1_000 });
    const bus = f.tc.conditions;
    const expiryEvents: string[] = [];
    bus.watch((e) => e.key === 'cert:app:expiry' && expiryEvents.push(`${e.status} ${e.severity}`));
    try {
      await f.manager.start();
      await until(bus, 'the renewal condition', () => bus.firing().some((e) => e.key === 'cert:app:renewal'));
      const renewal = bus.firing().find((e) => e.key === 'cert:app:renewal')!;
      assert.equal(renewal.severity, 'warning');
      assert.equal(renewal.summary, 'renewal of app failed');
      assert.equal(renewal.item, 'app');
      assert.match(renewal.detail, /ECONNREFUSED|connect/);
      // The expiry is judged after the failed order and at each local check, which runs without the CA.
      await f.manager.check();
      await until(bus, 'the expiry warning', () => bus.firing().some((e) => e.key === 'cert:app:expiry'));
      let expiry = bus.firing().find((e) => e.key === 'cert:app:expiry');
      assert.equal(expiry?.severity, 'warning', JSON.stringify(bus.firing()));
      assert.equal(expiry!.summary, 'certificate app expires soon');
      assert.match(expiry!.detail, /^certificate app expires .* and has not been renewed: /);
      // Started with a third left and no failure yet, the module waited for the renewal's outcome: an
      // alert open before a restart was not resolved just to fire again.
      assert.deepEqual(expiryEvents, ['firing warning']);

      now = notBefore + life * 0.9;
      await until(bus, 'the next attempt to end', () => f.manager.get('app').state !== 'renewing');
      await f.manager.check();
      await until(bus, 'expiry critical', () => bus.firing().find((e) => e.key === 'cert:app:expiry')?.severity === 'critical');
      expiry = bus.firing().find((e) => e.key === 'cert:app:expiry');
      assert.equal(expiry!.summary, 'certificate app expires soon');
    } finally {
      await f.dispose();
    }

    // The CA back (a restart with the working config): a fresh certificate resolves both.
    const back = await createManager(pebbleConfig(pebble, dir, [cert()]), { now: () => new Date(now) });
    const seen: string[] = [];
    back.tc.conditions.watch((e) => seen.push(`${e.key} ${e.status}`));
    try {
      back.tc.conditions.reporter('certificates').fire({ key: 'cert:app:expiry', severity: 'critical', summary: 'x', item: 'app' });
      const renewed = await back.manager.renew('app');
      assert.equal(renewed.result, 'success', renewed.certificate.lastError);
      now = Date.parse(renewed.certificate.notBefore!) + 1_000;
      await back.manager.check();
      assert.deepEqual(back.tc.conditions.firing(), []);
      assert.ok(seen.includes('cert:app:renewal resolved'), seen.join(', '));
      assert.ok(seen.includes('cert:app:expiry resolved'), seen.join(', '));
    } finally {
      await back.dispose();
    }
  });

  test('deploy: a failing command fires cert:<name>:deploy, a served-certificate check that fails too; the next good deploy resolves it', async () => {
    const failing = await createManager(pebbleConfig(pebble, dir, [cert({ deploy: { command: 'echo reload refused >&2; exit 3', timeout: '5s' } })]));
    try {
      const outcome = await failing.manager.renew('app');
      assert.equal(outcome.result, 'success');
      const fired = failing.tc.conditions.firing().find((e) => e.key === 'cert:app:deploy');
      assert.equal(fired?.severity, 'warning');
      assert.equal(fired!.summary, 'deploy of app failed');
      assert.match(fired!.detail, /^deploy command: .*(exit|3)/);
    } finally {
      await failing.dispose();
    }
    const unverified = await createManager(pebbleConfig(pebble, dir, [cert({ deploy: { command: 'true', timeout: '5s', verify: `127.0.0.1:${await freePort()}` } })]));
    try {
      await unverified.manager.renew('app');
      assert.match(unverified.tc.conditions.firing().find((e) => e.key === 'cert:app:deploy')?.detail ?? '', /^served-certificate check: /);
      await unverified.manager.reload(pebbleConfig(pebble, dir, [cert({ deploy: { command: 'true', timeout: '5s' } })]));
      await unverified.manager.renew('app');
      assert.equal(unverified.tc.conditions.firing().some((e) => e.key === 'cert:app:deploy'), false);
    } finally {
      await unverified.dispose();
    }
  });
});
