import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { configSchema } from '../../../src/modules/certificates/config.js';

const base = { acme: { directory: 'https://acme.example.com/dir', email: 'ops@example.com' } };
const issues = (input: unknown) => {
  const result = configSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('certificates config', () => {
  test('the README snippet parses, with defaults applied', async () => {
    const readme = await readFile(new URL('../../../src/modules/certificates/README.md', import.meta.url), 'utf8');
    // The hook must exist when the config is loaded; the snippet's exists only on a real server.
    const yaml = /```yaml\n([\s\S]+?)```/.exec(readme)![1]!.replace('/usr/local/bin/dns-hook', '/bin/true');
    const section = configSchema.parse((parse(yaml) as { certificates: unknown }).certificates);
    assert.equal(section.dir, '/etc/letsencrypt');
    assert.equal(section.renewCheckInterval, 300_000);
    assert.equal(section.acme.requestTimeout, 10_000);
    assert.deepEqual(section.certs.map((c) => [c.name, c.keyType, c.challenge.type]), [
      ['example.com', 'ecdsa-p256', 'http-01'],
      ['api', 'ecdsa-p256', 'http-01'],
      ['wildcard', 'ecdsa-p256', 'dns-01'],
    ]);
    assert.deepEqual(section.certs[0]!.deploy, { command: 'nginx -t && nginx -s reload', timeout: 60_000, verify: '127.0.0.1:443' });
  });

  test('defaults: standalone on 0.0.0.0:80, keyType ecdsa-p256, reuseKey false', () => {
    const section = configSchema.parse({ ...base, certs: [{ name: 'a', domains: ['A.example.com'], challenge: { type: 'http-01', standalone: {} } }] });
    assert.deepEqual(section.certs[0]!.challenge, { type: 'http-01', standalone: { address: '0.0.0.0', port: 80 } });
    assert.equal(section.certs[0]!.keyType, 'ecdsa-p256');
    assert.equal(section.certs[0]!.reuseKey, false);
    assert.deepEqual(section.certs[0]!.domains, ['a.example.com']);
  });

  test('mistakes are reported at their key', () => {
    const http = { type: 'http-01', webroot: '/var/www' };
    assert.deepEqual(issues({ ...base, certs: [{ name: 'a', domains: ['*.example.com'], challenge: http }] }), [
      "certs.0.domains.0: wildcard '*.example.com' needs challenge type dns-01",
    ]);
    assert.deepEqual(issues({ ...base, certs: [{ name: 'a', domains: ['x.example.com', 'x.example.com'], challenge: http }] }), ["certs.0.domains.1: duplicate domain 'x.example.com'"]);
    assert.deepEqual(issues({ ...base, certs: [{ name: 'a', domains: ['a.example.com'], challenge: http }, { name: 'a', domains: ['b.example.com'], challenge: http }] }), [
      "certs.1.name: duplicate name 'a' (already used at index 0)",
    ]);
    assert.match(issues({ ...base, certs: [{ name: 'a', domains: ['a.example.com'], challenge: http, keyType: 'dsa' }] })[0]!, /^certs\.0\.keyType/);
    assert.match(issues({ ...base, certs: [{ name: 'a', domains: ['a.example.com'], challenge: { type: 'http-01', webroot: '/x', standalone: {} } }] })[0]!, /^certs\.0\.challenge: expected/);
    assert.match(issues({ ...base, certs: [{ name: 'a', domains: ['a.example.com'], challenge: http, deploy: { command: 'x', verify: 'nope' } }] })[0]!, /^certs\.0\.deploy\.verify/);
    assert.match(issues({ acme: { directory: 'ftp://x', email: 'ops@example.com' } })[0]!, /^acme\.directory/);
    assert.match(issues({ ...base, renewCheckInterval: 'often' })[0]!, /^renewCheckInterval/);
    assert.match(issues({ ...base, extra: 1 })[0]!, /Unrecognized key/);
  });
});
