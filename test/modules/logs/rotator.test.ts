import assert from 'node:assert/strict';
import { appendFile, chmod, chown, mkdir, readFile, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { list, makeFixture, readLog } from './setup.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

test('size trigger: a file over maxSize is rotated at the next check, the live file starts empty', async (t) => {
  const f = await makeFixture((dir) => [{ name: 'app', paths: [join(dir, '*.log')], rotate: { maxSize: '1KiB' } }]);
  t.after(() => f.cleanup());
  await writeFile(join(f.dir, 'a.log'), 'x'.repeat(2048));
  await writeFile(join(f.dir, 'small.log'), 'tiny\n');
  await f.rotator.start();
  await f.tick();
  assert.deepEqual(await list(f.dir), ['a.log', 'a.log-20260110T120000Z', 'small.log']);
  assert.equal((await stat(join(f.dir, 'a.log'))).size, 0);
  assert.equal((await readFile(join(f.dir, 'a.log-20260110T120000Z'), 'utf8')).length, 2048);
  assert.equal(await f.metric('caretaker_log_rotations_total', { log: 'app', result: 'success' }), 1);
  assert.equal(await f.metric('caretaker_log_rotations_total', { log: 'app', result: 'failure' }), 0);
  assert.equal(await f.metric('caretaker_log_rotated_bytes_total', { log: 'app' }), 2048);
  assert.equal(await f.metric('caretaker_log_last_rotation_timestamp_seconds', { log: 'app' }), Date.UTC(2026, 0, 10, 12) / 1000);
  assert.equal(await f.metric('caretaker_log_live_bytes', { log: 'app' }), 2048 + 5);
  assert.equal(f.rotator.health().status, 'ok');
});

test('calendar trigger in a time zone, with minSize and notIfEmpty; two rotations a day never collide', async (t) => {
  const f = await makeFixture((dir) => [
    { name: 'cal', paths: [join(dir, 'a.log')], rotate: { every: 'daily', timezone: 'Europe/Paris' } },
    { name: 'min', paths: [join(dir, 'b.log')], rotate: { every: 'daily', minSize: '100B', timezone: 'Europe/Paris' } },
    { name: 'empty', paths: [join(dir, 'c.log')], rotate: { every: 'daily' }, notIfEmpty: true },
  ], '2026-01-10T12:00:00Z');
  t.after(() => f.cleanup());
  await writeFile(join(f.dir, 'a.log'), 'one\n');
  await writeFile(join(f.dir, 'b.log'), 'small\n');
  await writeFile(join(f.dir, 'c.log'), '');
  await f.rotator.start();
  await f.tick();
  assert.deepEqual(await list(f.dir), ['a.log', 'b.log', 'c.log'], 'first sight sets the baseline, as logrotate does');

  f.clock.set('2026-01-10T22:59:00Z'); // 23:59 in Paris
  await f.tick();
  assert.deepEqual(await list(f.dir), ['a.log', 'b.log', 'c.log']);

  f.clock.set('2026-01-10T23:00:30Z'); // 00:00:30 in Paris: a new day there, not yet in UTC
  await f.tick();
  assert.deepEqual(await list(f.dir), ['a.log', 'a.log-20260110T230030Z', 'b.log', 'c.log'], 'b.log is below minSize, c.log is empty');

  await appendFile(join(f.dir, 'b.log'), 'y'.repeat(200));
  await appendFile(join(f.dir, 'a.log'), 'two\n');
  f.clock.advance(HOUR);
  await f.tick();
  assert.deepEqual(await list(f.dir), ['a.log', 'a.log-20260110T230030Z', 'b.log', 'b.log-20260111T000030Z', 'c.log'], 'b.log rotates once it reaches minSize; a.log waits for the next day');

  // A forced rotation in the same second as a scheduled one gets its own name.
  await appendFile(join(f.dir, 'b.log'), 'again\n');
  await f.rotator.rotate('min');
  assert.ok((await list(f.dir)).includes('b.log-20260111T000030Z-2'));
});

test('catch-up: a rotation missed while the agent was down happens at start', async (t) => {
  const f = await makeFixture((dir) => [{ name: 'app', paths: [join(dir, 'a.log')], rotate: { every: 'daily' } }], '2026-01-10T12:00:00Z');
  t.after(() => f.cleanup());
  await writeFile(join(f.dir, 'a.log'), 'day one\n');
  await f.rotator.start();
  await f.tick();
  await f.rotator.stop();
  assert.deepEqual(await list(f.dir), ['a.log']);

  // Down for three days; the agent starts at 09:00 and must not wait for the next midnight.
  f.clock.set('2026-01-13T09:00:00Z');
  const restarted = f.restart();
  await restarted.start();
  await f.tick();
  assert.deepEqual(await list(f.dir), ['a.log', 'a.log-20260113T090000Z']);
  const state = JSON.parse(await readFile(join(f.tc.ctx.stateDir, 'state.json'), 'utf8'));
  assert.equal(state.files[join(f.dir, 'a.log')].lastRotationMs, Date.UTC(2026, 0, 13, 9));
});

test('after a restart the kept state still shows the last rotation (status and metric); a file only seen shows none', async (t) => {
  const f = await makeFixture((dir) => [
    { name: 'app', paths: [join(dir, 'a.log')], rotate: { maxSize: '1KiB' } },
    { name: 'quiet', paths: [join(dir, 'q.log')], rotate: { every: 'daily' } },
  ]);
  t.after(() => f.cleanup());
  await writeFile(join(f.dir, 'a.log'), 'x'.repeat(2048));
  await writeFile(join(f.dir, 'q.log'), 'first sight\n');
  await f.rotator.start();
  await f.tick();
  await f.rotator.stop();
  const rotatedAt = new Date(Date.UTC(2026, 0, 10, 12)).toISOString();
  assert.equal(f.rotator.status().logs[0]!.lastRotation, rotatedAt);

  f.clock.advance(HOUR);
  const restarted = f.restart();
  await restarted.start();
  await f.tick();
  const [app, quiet] = restarted.status().logs;
  assert.equal(app!.lastRotation, rotatedAt);
  assert.equal(app!.files[0]!.lastRotation, rotatedAt);
  assert.equal(await f.metric('caretaker_log_last_rotation_timestamp_seconds', { log: 'app' }), Date.UTC(2026, 0, 10, 12) / 1000);
  assert.equal(quiet!.lastRotation, null, 'the calendar baseline taken at first sight is not a rotation');
  assert.equal(quiet!.files[0]!.lastRotation, null);
});

test('a corrupt state file is moved aside and rebuilt from the rotated files on disk', async (t) => {
  const f = await makeFixture((dir) => [{ name: 'app', paths: [join(dir, 'a.log')], rotate: { every: 'daily' } }], '2026-01-10T12:00:00Z');
  t.after(() => f.cleanup());
  await writeFile(join(f.dir, 'a.log'), 'live\n');
  await writeFile(join(f.dir, 'a.log-20260109T000000Z'), 'yesterday\n');
  await writeFile(join(f.tc.ctx.stateDir, 'state.json'), '{"version":1,"files":{"/x": {"lastRot');
  await f.rotator.start();
  await f.tick();
  const status = f.rotator.status();
  assert.match(status.stateRebuilt ?? '', /not valid state/);
  // The newest rotation on disk is from yesterday, so today's rotation is due.
  assert.deepEqual(await list(f.dir), ['a.log', 'a.log-20260109T000000Z', 'a.log-20260110T120000Z']);
  assert.match(await readFile(join(f.tc.ctx.stateDir, 'state.json.corrupt'), 'utf8'), /lastRot/);
  const state = JSON.parse(await readFile(join(f.tc.ctx.stateDir, 'state.json'), 'utf8'));
  assert.equal(state.files[join(f.dir, 'a.log')].lastRotationMs, Date.UTC(2026, 0, 10, 12));
});

test('keep and maxAge prune only files made by rotation; maxAge is enforced every check', async (t) => {
  const f = await makeFixture((dir) => [{ name: 'app', paths: [join(dir, 'a.log')], rotate: { every: 'hourly' }, keep: 2, maxAge: '1d', notIfEmpty: true }], '2026-01-10T12:00:00Z');
  t.after(() => f.cleanup());
  const live = join(f.dir, 'a.log');
  await writeFile(live, 'x\n');
  // Look-alikes that were not made by rotation of a.log, and a symlink with a rotated name.
  for (const name of ['a.log.bak', 'a.log-old', 'b.log-20200101T000000Z', 'a.log-2020']) await writeFile(join(f.dir, name), 'keep me\n');
  await writeFile(join(f.dir, 'target'), 'not ours\n');
  await symlink(join(f.dir, 'target'), join(f.dir, 'a.log-20200101T000000Z'));
  await f.rotator.start();
  await f.tick();
  for (let i = 0; i < 4; i++) {
    await appendFile(live, `line ${i}\n`);
    f.clock.advance(HOUR);
    await f.tick();
  }
  const rotated = (await list(f.dir)).filter((n) => /^a\.log-\d{8}T/.test(n));
  assert.deepEqual(rotated, ['a.log-20200101T000000Z', 'a.log-20260110T150000Z', 'a.log-20260110T160000Z']);
  assert.equal(await readLog(join(f.dir, 'a.log-20260110T160000Z')), 'line 3\n');

  // No rotation is due (size trigger absent, same hour), but age passes: pruned at the next check.
  f.clock.advance(DAY - 30 * 60_000);
  await writeFile(live, '');
  await f.tick();
  assert.deepEqual((await list(f.dir)).filter((n) => /^a\.log-\d{8}T/.test(n)), ['a.log-20200101T000000Z', 'a.log-20260110T160000Z']);
  f.clock.advance(HOUR);
  await f.tick();
  for (const name of ['a.log.bak', 'a.log-old', 'b.log-20200101T000000Z', 'a.log-2020', 'target', 'a.log-20200101T000000Z']) {
    assert.ok((await list(f.dir)).includes(name), `${name} is not ours and stays`);
  }
});

test('delayCompress: the newest rotation stays plain, the one before is gzipped', async (t) => {
  const f = await makeFixture((dir) => [{ name: 'app', paths: [join(dir, 'a.log')], rotate: { maxSize: '1B' }, compress: { level: 9 }, delayCompress: true }]);
  t.after(() => f.cleanup());
  const live = join(f.dir, 'a.log');
  await f.rotator.start();
  await writeFile(live, 'first\n');
  await f.tick();
  assert.deepEqual(await list(f.dir), ['a.log', 'a.log-20260110T120000Z']);
  await writeFile(live, 'second\n');
  f.clock.advance(1000);
  await f.tick();
  assert.deepEqual(await list(f.dir), ['a.log', 'a.log-20260110T120000Z.gz', 'a.log-20260110T120001Z']);
  assert.equal(await readLog(join(f.dir, 'a.log-20260110T120000Z.gz')), 'first\n');
  assert.equal(await readLog(join(f.dir, 'a.log-20260110T120001Z')), 'second\n');
  assert.ok((await f.metric('caretaker_log_compression_ratio', { log: 'app' }))! > 0);
});

test('numbered naming in an olddir, compressed, with keep', async (t) => {
  const f = await makeFixture((dir) => [{ name: 'app', paths: [join(dir, 'a.log')], rotate: { maxSize: '1B' }, naming: 'numbered', olddir: 'old', compress: true, keep: 3 }]);
  t.after(() => f.cleanup());
  const live = join(f.dir, 'a.log');
  await f.rotator.start();
  for (let i = 1; i <= 5; i++) {
    await writeFile(live, `gen ${i}\n`);
    await f.tick();
  }
  const old = join(f.dir, 'old');
  assert.deepEqual(await list(old), ['a.log.1.gz', 'a.log.2.gz', 'a.log.3.gz']);
  assert.equal(await readLog(join(old, 'a.log.1.gz')), 'gen 5\n');
  assert.equal(await readLog(join(old, 'a.log.3.gz')), 'gen 3\n');
  assert.equal((await stat(old)).mode & 0o777, 0o750);
});

test('the new live file keeps owner and mode, or takes those of `create`', async (t) => {
  const f = await makeFixture((dir) => [
    { name: 'same', paths: [join(dir, 'a.log')], rotate: { maxSize: '1B' } },
    { name: 'set', paths: [join(dir, 'b.log')], rotate: { maxSize: '1B' }, create: { owner: 'nobody', group: 4321, mode: '0604' } },
  ]);
  t.after(() => f.cleanup());
  for (const name of ['a.log', 'b.log']) {
    await writeFile(join(f.dir, name), 'x\n');
    await chown(join(f.dir, name), 1234, 5678);
    await chmod(join(f.dir, name), 0o640);
  }
  await f.rotator.start();
  await f.tick();
  const a = await stat(join(f.dir, 'a.log'));
  assert.deepEqual([a.uid, a.gid, a.mode & 0o777, a.size], [1234, 5678, 0o640, 0]);
  const b = await stat(join(f.dir, 'b.log'));
  assert.deepEqual([b.uid, b.gid, b.mode & 0o777], [65534, 4321, 0o604]);
});

test('crash recovery: a complete x.gz next to x means x is removed', async (t) => {
  const f = await makeFixture((dir) => [{ name: 'app', paths: [join(dir, 'a.log')], rotate: { every: 'daily' }, compress: true }]);
  t.after(() => f.cleanup());
  await writeFile(join(f.dir, 'a.log'), 'live\n');
  await writeFile(join(f.dir, 'a.log-20260110T000000Z'), 'old\n');
  await writeFile(join(f.dir, 'a.log-20260110T000000Z.gz'), gzipSync('old\n'));
  await writeFile(join(f.dir, 'a.log-20260109T000000Z'), 'older\n');
  await utimes(join(f.dir, 'a.log-20260109T000000Z'), new Date('2026-01-09T00:00:00Z'), new Date('2026-01-09T00:00:00Z'));
  await f.rotator.start();
  await f.tick();
  assert.deepEqual(await list(f.dir), ['a.log', 'a.log-20260109T000000Z.gz', 'a.log-20260110T000000Z.gz']);
  assert.equal((await stat(join(f.dir, 'a.log-20260109T000000Z.gz'))).mtime.toISOString(), '2026-01-09T00:00:00.000Z', 'the .gz keeps the mtime');
});

test('reload keeps unchanged sets, adds new ones and removes the metrics of removed ones', async (t) => {
  const f = await makeFixture((dir) => [
    { name: 'keepme', paths: [join(dir, 'a.log')], rotate: { maxSize: '1MiB' } },
    { name: 'dropme', paths: [join(dir, 'b.log')], rotate: { maxSize: '1MiB' } },
  ]);
  t.after(() => f.cleanup());
  await mkdir(join(f.dir, 'sub'));
  await writeFile(join(f.dir, 'a.log'), 'a\n');
  await writeFile(join(f.dir, 'b.log'), 'b\n');
  await f.rotator.start();
  await f.tick();
  await f.rotator.reload(
    (await import('../../../src/modules/logs/config.js')).configSchema.parse([
      { name: 'keepme', paths: [join(f.dir, 'a.log')], rotate: { maxSize: '1MiB' } },
      { name: 'new', paths: [join(f.dir, 'c.log')], rotate: { maxSize: '1MiB' }, missingOk: true },
    ]),
  );
  assert.deepEqual(f.rotator.status().logs.map((l) => l.name), ['keepme', 'new']);
  assert.equal(await f.metric('caretaker_log_rotations_total', { log: 'dropme', result: 'success' }), undefined);
  assert.equal(await f.metric('caretaker_log_rotations_total', { log: 'new', result: 'failure' }), 0);
  await f.tick();
  assert.equal(f.rotator.health().status, 'ok');
});
