import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { duration, formatListen, isLoopback, namedList, parseDuration, parseListen, parseSize, size } from '../../../src/agent/kit/schema.js';

test('durations', () => {
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5d'), 129_600_000);
  for (const bad of ['', '30', 's', '5 m', '-1s', '1y', '1h 30m']) assert.equal(parseDuration(bad), undefined, bad);
  assert.equal(duration().parse('2m'), 120_000);
  assert.throws(() => duration({ min: '1s' }).parse('10ms'), /shorter than the minimum 1s/);
});

test('sizes', () => {
  assert.equal(parseSize('100MiB'), 100 * 1024 ** 2);
  assert.equal(parseSize('1GB'), 1e9);
  assert.equal(parseSize('512k'), 512 * 1024);
  assert.equal(parseSize('42'), 42);
  assert.equal(parseSize('1.5 KiB'), 1536);
  for (const bad of ['', 'MiB', '10 parsecs', '-1MiB']) assert.equal(parseSize(bad), undefined, bad);
  assert.equal(size().parse('2KiB'), 2048);
});

test('listen addresses', () => {
  assert.deepEqual(parseListen('127.0.0.1:9470'), { kind: 'tcp', host: '127.0.0.1', port: 9470 });
  assert.deepEqual(parseListen('[::1]:9470'), { kind: 'tcp', host: '::1', port: 9470 });
  assert.deepEqual(parseListen('unix:/run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
  assert.deepEqual(parseListen('/run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
  for (const bad of ['9470', 'host', 'host:99999', 'unix:', ':9470']) assert.equal(parseListen(bad), undefined, bad);
  assert.equal(isLoopback(parseListen('127.0.0.2:1')!), true);
  assert.equal(isLoopback(parseListen('[::1]:1')!), true);
  assert.equal(isLoopback(parseListen('0.0.0.0:1')!), false);
  assert.equal(isLoopback(parseListen('10.0.0.1:1')!), false);
  assert.equal(formatListen(parseListen('[::1]:80')!), '[::1]:80');
});

test('named lists report a duplicate at its own name key', () => {
  const schema = namedList(z.object({ name: z.string() }));
  const result = schema.safeParse([{ name: 'a' }, { name: 'b' }, { name: 'a' }]);
  assert.equal(result.success, false);
  assert.deepEqual(result.error!.issues[0]!.path, [2, 'name']);
  assert.match(result.error!.issues[0]!.message, /duplicate name 'a' \(already used at index 0\)/);
});
