import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand } from '../../harness/process.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { ariCertId, ARI_DEFAULT_POLL_MS, ARI_MAX_POLL_MS, ARI_MIN_POLL_MS, parseRenewalInfo, renewalInfoUrl, retryAfterMs } from '../../../src/modules/certificates/ari.js';

let tmp: TempDir;
before(async () => {
  tmp = await makeTempDir('certs-ari');
});
after(async () => tmp?.cleanup());

/** A CA and a leaf it signs, made with openssl; serial chosen so its DER needs a leading 0x00. */
async function leafWithSerial(serialHex: string): Promise<{ cert: X509Certificate; aki: string }> {
  const f = (n: string) => path.join(tmp.path, n);
  await runCommand('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=ari test CA']);
  await runCommand('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=leaf']);
  const { writeFile, readFile } = await import('node:fs/promises');
  await writeFile(f('ext'), 'authorityKeyIdentifier=keyid\nsubjectAltName=DNS:leaf.example.com\n');
  await runCommand('openssl', ['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', `0x${serialHex}`, '-days', '1', '-extfile', f('ext'), '-out', f('leaf.pem')]);
  const text = await runCommand('openssl', ['x509', '-in', f('leaf.pem'), '-noout', '-ext', 'authorityKeyIdentifier']);
  const aki = /([0-9A-F]{2}(:[0-9A-F]{2})+)/.exec(text)![1]!.replace(/:/g, '');
  return { cert: new X509Certificate(await readFile(f('leaf.pem'))), aki };
}

describe('ARI cert ID (RFC 9773 §4.1)', () => {
  test('base64url(AKI keyIdentifier) "." base64url(serial DER bytes), leading zero kept', async () => {
    const { cert, aki } = await leafWithSerial('87654321abcdef');
    const expected = `${Buffer.from(aki, 'hex').toString('base64url')}.${Buffer.from('0087654321abcdef', 'hex').toString('base64url')}`;
    assert.equal(ariCertId(cert), expected);
  });

  test('serial without the high bit set has no leading zero', async () => {
    const { cert, aki } = await leafWithSerial('12345678');
    assert.equal(ariCertId(cert), `${Buffer.from(aki, 'hex').toString('base64url')}.${Buffer.from('12345678', 'hex').toString('base64url')}`);
  });

  test('the RFC example: aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE', () => {
    // RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial 0x87654321.
    const aki = Buffer.from('69885B6B87464041E1B37B847BA0AE2CDE01C8D4', 'hex').toString('base64url');
    const serial = Buffer.from('0087654321', 'hex').toString('base64url');
    assert.equal(`${aki}.${serial}`, 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  });

  test('renewalInfo URL joins base and ID with one slash', () => {
    assert.equal(renewalInfoUrl('https://ca/renewal-info/', 'a.b'), 'https://ca/renewal-info/a.b');
  });
});

describe('renewalInfo response', () => {
  const now = new Date('2026-03-01T00:00:00Z');

  test('window parsed, Retry-After seconds honoured', () => {
    const info = parseRenewalInfo(
      { suggestedWindow: { start: '2026-03-10T00:00:00Z', end: '2026-03-12T00:00:00Z' }, explanationURL: 'https://ca/why' },
      '21600',
      now,
    );
    assert.deepEqual(info.window, { start: new Date('2026-03-10T00:00:00Z'), end: new Date('2026-03-12T00:00:00Z') });
    assert.equal(info.explanationUrl, 'https://ca/why');
    assert.equal(info.nextPollAt.getTime() - now.getTime(), 21_600_000);
  });

  test('Retry-After as an HTTP date, clamped both ways, default six hours', () => {
    const bounds = { min: ARI_MIN_POLL_MS, max: ARI_MAX_POLL_MS, fallback: ARI_DEFAULT_POLL_MS };
    assert.equal(retryAfterMs(new Date(now.getTime() + 7_200_000).toUTCString(), now, bounds), 7_200_000);
    assert.equal(retryAfterMs('1', now, bounds), ARI_MIN_POLL_MS);
    assert.equal(retryAfterMs('9999999', now, bounds), ARI_MAX_POLL_MS);
    assert.equal(retryAfterMs(undefined, now, bounds), ARI_DEFAULT_POLL_MS);
    assert.equal(retryAfterMs('soon', now, bounds), ARI_DEFAULT_POLL_MS);
  });

  test('missing or inverted windows are refused', () => {
    assert.throws(() => parseRenewalInfo({}, undefined, now), /suggestedWindow/);
    assert.throws(() => parseRenewalInfo({ suggestedWindow: { start: 'x', end: 'y' } }, undefined, now), /suggestedWindow/);
    assert.throws(() => parseRenewalInfo({ suggestedWindow: { start: '2026-03-12T00:00:00Z', end: '2026-03-10T00:00:00Z' } }, undefined, now), /ends before/);
  });
});
