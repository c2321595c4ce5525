import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startPebble, type PebbleServer } from '../../harness/pebble.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { createManager, liveSetMatches, pebbleConfig } from './fixtures.js';

/** A CA that requires External Account Binding (ZeroSSL, Google): pebble with `externalAccountBindingRequired`. */
const KID = 'caretaker-test-kid';
const HMAC_KEY = randomBytes(32).toString('base64url');

let pebble: PebbleServer;
let tmp: TempDir;

before(async () => {
  pebble = await startPebble({ eabKeys: { [KID]: HMAC_KEY } });
  tmp = await makeTempDir('certs-eab-int');
});

after(async () => {
  await pebble?.stop();
  await tmp?.cleanup();
});

async function order(name: string, eab: { kid: string; hmacKey: string } | undefined) {
  const dir = path.join(tmp.path, name);
  const cert = { name, domains: [`${name}.example.com`], challenge: { type: 'http-01', standalone: { address: '127.0.0.1', port: pebble.httpPort } } };
  const f = await createManager(pebbleConfig(pebble, dir, [cert], eab ? { eab } : {}));
  try {
    return { dir, outcome: await f.manager.renew(name) };
  } finally {
    await f.dispose();
  }
}

test('EAB: the right kid and hmacKey register the account and the certificate is issued', async () => {
  const { dir, outcome } = await order('eab-ok', { kid: KID, hmacKey: HMAC_KEY });
  assert.equal(outcome.result, 'success', outcome.certificate.lastError);
  assert.equal((await liveSetMatches(dir, 'eab-ok')).ok, true);
});

test('EAB: a wrong hmacKey fails registration, saying EAB and the CA message', async () => {
  const { outcome } = await order('eab-wrong', { kid: KID, hmacKey: randomBytes(32).toString('base64url') });
  assert.equal(outcome.result, 'failure');
  // Ours, then pebble's: "external account binding JWS verification error: … (unauthorized)".
  assert.match(outcome.certificate.lastError ?? '', /^registering the ACME account with External Account Binding \(acme\.eab\): external account binding .*verification error.* \(unauthorized\)$/);
});

test('EAB: no eab against a CA that requires it fails with a clear error', async () => {
  const { outcome } = await order('eab-missing', undefined);
  assert.equal(outcome.result, 'failure');
  assert.match(
    outcome.certificate.lastError ?? '',
    /^registering the ACME account: .*'externalAccountBinding'.* \(externalAccountRequired\); the CA requires External Account Binding: set acme\.eab \{ kid, hmacKey \}$/,
  );
});
