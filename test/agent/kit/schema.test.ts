import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { duration, existingPath, formatListen, isLoopback, libpqFileProblems, MAX_TIMER_MS, namedList, parseDuration, parseListen, parseSize, size } from '../../../src/agent/kit/schema.js';
import { makeTempDir } from '../../harness/tmpdir.js';

test('durations', () => {
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5d'), 129_600_000);
  for (const bad of ['', '30', 's', '5 m', '-1s', '1y', '1h 30m']) assert.equal(parseDuration(bad), undefined, bad);
  assert.equal(duration().parse('2m'), 120_000);
  assert.throws(() => duration({ min: '1s' }).parse('10ms'), /shorter than the minimum 1s/);
});

test("durations stop at Node's timer limit unless they never feed a timer", () => {
  assert.equal(duration().parse('24d'), 24 * 86_400_000);
  assert.ok(24 * 86_400_000 <= MAX_TIMER_MS && 25 * 86_400_000 > MAX_TIMER_MS);
  assert.throws(() => duration().parse('25d'), /'25d' is longer than Node\.js can time \(at most 2\^31-1 ms, about 24\.8 days\)/);
  assert.throws(() => duration({ min: '1s' }).parse('9'.repeat(400) + 'd'), /longer than Node\.js can time/);
  assert.equal(duration({ min: '1m', timer: false }).parse('90d'), 90 * 86_400_000);
  assert.throws(() => duration({ timer: false }).parse('9'.repeat(400) + 'd'), /too long to be a duration/);
});

test('paths checked at load: exists, kind, readable or executable; the libpq files of a URL', async () => {
  const tmp = await makeTempDir('paths');
  try {
    const file = join(tmp.path, 'ca.pem');
    const hook = join(tmp.path, 'hook');
    await writeFile(file, 'pem');
    await writeFile(hook, '#!/bin/sh\n');
    await chmod(hook, 0o755);
    await mkdir(join(tmp.path, 'dir'));
    const problem = (schema: z.ZodType, value: string) => {
      const result = schema.safeParse(value);
      return result.success ? undefined : result.error.issues.map((i) => i.message).join('; ');
    };
    const readable = existingPath({ kind: 'file' });
    const executable = existingPath({ kind: 'file', executable: true });
    assert.equal(problem(readable, file), undefined);
    assert.equal(problem(readable, 'ca.pem'), 'must be an absolute path to a file');
    assert.equal(problem(readable, join(tmp.path, 'nope')), `${join(tmp.path, 'nope')}: does not exist`);
    assert.equal(problem(readable, join(file, 'below')), `${join(file, 'below')}: does not exist`);
    assert.equal(problem(readable, tmp.path), `${tmp.path}: is not a regular file`);
    assert.equal(problem(executable, hook), undefined);
    assert.match(problem(executable, file)!, /: is not executable by this user/);
    assert.equal(problem(existingPath({ kind: 'directory' }), join(tmp.path, 'dir')), undefined);
    assert.equal(problem(existingPath({ kind: 'directory' }), file), `${file}: is not a directory`);
    assert.deepEqual(libpqFileProblems(`postgres://u@h/db?sslmode=verify-full&sslrootcert=${file}`), []);
    assert.deepEqual(libpqFileProblems('postgres://u@h/db?sslrootcert=system'), []);
    assert.deepEqual(libpqFileProblems(`postgres://u@h/db?sslcert=${tmp.path}/c.crt&sslkey=${file}`), [`sslcert=${tmp.path}/c.crt: does not exist`]);
    assert.deepEqual(libpqFileProblems('not a url'), []);
  } finally {
    await tmp.cleanup();
  }
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
