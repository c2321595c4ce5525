import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parse } from 'yaml';
import { configSchema, logSetSchema } from '../../../src/modules/logs/config.js';

function issues(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const base = { name: 'x', paths: ['/var/log/x.log'], rotate: { every: 'daily' } };

test('the README snippet is a valid config', async () => {
  const readme = await readFile(new URL('../../../src/modules/logs/README.md', import.meta.url), 'utf8');
  const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)![1]!;
  const parsed = configSchema.parse(parse(yaml).logs);
  assert.equal(parsed.length, 3);
  assert.deepEqual(parsed[0]!.compress, { level: 6 });
  assert.equal(parsed[0]!.reopen?.timeout, 30_000);
  assert.equal(parsed[0]!.maxAge, 90 * 86_400_000);
  assert.equal(parsed[1]!.create?.mode, 0o640);
  assert.equal(parsed[1]!.rotate.maxSize, 50 * 1024 * 1024);
});

test('defaults', () => {
  const set = logSetSchema.parse(base);
  assert.equal(set.keep, 7);
  assert.equal(set.naming, 'dateext');
  assert.equal(set.compress, undefined);
  assert.equal(set.copyTruncate, false);
});

test('calendar rotation reads the host zone when rotate.timezone is left out, as backups do', () => {
  const previous = process.env.TZ;
  process.env.TZ = 'Europe/Paris';
  try {
    assert.equal(logSetSchema.parse(base).rotate.timezone, 'Europe/Paris');
  } finally {
    if (previous === undefined) delete process.env.TZ;
    else process.env.TZ = previous;
  }
});

test('cross-field rules report the failing key', () => {
  assert.deepEqual(issues([{ ...base, rotate: {} }]), ['0.rotate.every: give `every`, `maxSize` or both: nothing would ever rotate']);
  assert.deepEqual(issues([{ ...base, rotate: { maxSize: '1MiB', minSize: '1KiB' } }]), ['0.rotate.minSize: `minSize` only applies to calendar rotation (`every`)']);
  assert.deepEqual(issues([{ ...base, copyTruncate: true, reopen: { command: 'x' } }]), ['0.copyTruncate: use either `reopen` or `copyTruncate`, not both']);
  assert.deepEqual(issues([{ ...base, delayCompress: true }]), ['0.delayCompress: `delayCompress` needs `compress`']);
  assert.deepEqual(issues([{ ...base, reopen: { signal: 'USR1' } }]), ['0.reopen.pidFile: `signal` needs the `pidFile` of the writer']);
  assert.deepEqual(issues([{ ...base, reopen: { pidFile: '/run/x.pid' } }]), ['0.reopen.signal: `pidFile` needs a `signal` to send']);
  assert.deepEqual(issues([{ ...base, reopen: { signal: 'USR1', pidFile: '/run/x.pid', command: 'x' } }]), ['0.reopen.command: use either `signal` + `pidFile` or `command`, not both']);
  assert.deepEqual(issues([{ ...base, reopen: {} }]), ['0.reopen.signal: give `signal` + `pidFile` or `command`']);
});

test('strict objects, unique names, valid zones, absolute paths', () => {
  assert.match(issues([{ ...base, rotat: {} }]).join('\n'), /Unrecognized key/);
  assert.match(issues([base, base]).join('\n'), /1\.name: duplicate name 'x'/);
  assert.match(issues([{ ...base, rotate: { every: 'daily', timezone: 'Mars/Olympus' } }]).join('\n'), /rotate\.timezone: not an IANA time zone/);
  assert.match(issues([{ ...base, paths: ['relative/*.log'] }]).join('\n'), /paths\.0: must be an absolute path/);
  assert.match(issues([{ ...base, reopen: { signal: 'KILL', pidFile: '/x' } }]).join('\n'), /reopen\.signal/);
  assert.match(issues([{ ...base, create: { mode: '777x' } }]).join('\n'), /create\.mode/);
});
