import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { redisTargetFor } from '../../../src/agent/kit/redis.js';
import { tlsClient, tlsConnectOptions } from '../../../src/agent/kit/tls.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';

let dir: TempDir;
let ca: string;
before(async () => {
  dir = await makeTempDir('kit-tls');
  ca = join(dir.path, 'ca.pem');
  await writeFile(ca, 'not really a PEM\n');
});
after(() => dir.cleanup());

const messages = (input: unknown) => {
  const result = tlsClient().safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

test('one tls block: verify (default true), ca and serverName', () => {
  assert.deepEqual(tlsClient().parse({}), { verify: true });
  assert.deepEqual(tlsClient().parse({ verify: false, ca, serverName: 'cache.internal' }), { verify: false, ca, serverName: 'cache.internal' });
  assert.match(messages({ ca: join(dir.path, 'missing.pem') }).join('\n'), /^ca: .*does not exist/);
  assert.match(messages({ verfy: false }).join('\n'), /verfy/);
});

test("the old 'insecure' key still reads, as the opposite of verify, and cannot be mixed with it", () => {
  assert.deepEqual(tlsClient().parse({ insecure: true }), { verify: false });
  assert.deepEqual(tlsClient().parse({ insecure: false, ca }), { verify: true, ca });
  assert.deepEqual(messages({ insecure: true, verify: true }), ["insecure: give only 'verify': 'insecure' is its deprecated opposite"]);
});

test('tlsConnectOptions: the CA read, SNI from the host unless an IP, serverName over both', async () => {
  assert.deepEqual(await tlsConnectOptions({ verify: true }, 'cache.internal'), { rejectUnauthorized: true, servername: 'cache.internal' });
  assert.deepEqual(await tlsConnectOptions({ verify: false }, '127.0.0.1'), { rejectUnauthorized: false });
  const options = await tlsConnectOptions({ verify: true, ca, serverName: 'redis.example.com' }, '10.0.0.5');
  assert.equal(options.servername, 'redis.example.com');
  assert.equal(String(options.ca), 'not really a PEM\n');
  await assert.rejects(tlsConnectOptions({ verify: true, ca: join(dir.path, 'gone.pem') }, 'h'), { code: 'ERR_TLS_CA_UNREADABLE', message: /cannot read the CA file/ });
});

test('redisTargetFor applies the block to rediss:// only', async () => {
  const secure = await redisTargetFor('rediss://:pw@127.0.0.1:6380/2', { verify: false, serverName: 'cache.internal' });
  assert.deepEqual(secure.tls, { rejectUnauthorized: false, servername: 'cache.internal' });
  assert.equal(secure.db, 2);
  assert.deepEqual((await redisTargetFor('rediss://cache.internal:6380', undefined)).tls, { rejectUnauthorized: true, servername: 'cache.internal' });
  assert.equal((await redisTargetFor('redis://127.0.0.1:6379', { verify: false })).tls, undefined);
});
