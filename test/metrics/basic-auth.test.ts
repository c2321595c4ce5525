import assert from 'node:assert/strict';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { createBasicAuth } from '../../src/metrics/basic-auth.js';

const header = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

test('a verified login is remembered; failures and unknown users always pay a bcrypt comparison', async () => {
  const hash = bcrypt.hashSync('s3cret', 4);
  const calls: string[] = [];
  const authorize = createBasicAuth({ prometheus: hash }, async (password, against) => {
    calls.push(against === hash ? 'known' : 'dummy');
    return bcrypt.compare(password, against);
  });
  assert.equal(await authorize(header('prometheus:s3cret')), true);
  assert.equal(await authorize(header('prometheus:s3cret')), true);
  assert.equal(await authorize(header('prometheus:wrong')), false);
  assert.equal(await authorize(header('prometheus:wrong')), false);
  assert.equal(await authorize(header('nobody:s3cret')), false);
  assert.deepEqual(calls, ['known', 'known', 'known', 'dummy']);
  for (const malformed of [undefined, '', 'Bearer x', 'Basic !!!', header('no-colon')]) assert.equal(await authorize(malformed), false);
});
