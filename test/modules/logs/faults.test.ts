import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../../harness/ports.js';
import { makeTempDir } from '../../harness/tmpdir.js';
import { spawnCaretaker } from '../../helpers/spawn.js';
import { list, makeFixture, readLog, slowToCompress } from './setup.js';

test('a directory writable by others is refused (sticky bit or not), with a clear problem', async (t) => {
  const f = await makeFixture((dir) => [
    { name: 'open', paths: [join(dir, 'open', '*.log')], rotate: { maxSize: '1B' } },
    { name: 'sticky', paths: [join(dir, 'sticky', '*.log')], rotate: { maxSize: '1B' } },
  ]);
  t.after(() => f.cleanup());
  for (const [sub, mode] of [['open', 0o777], ['sticky', 0o1777]] as const) {
    await mkdir(join(f.dir, sub));
    await chmod(join(f.dir, sub), mode);
    await writeFile(join(f.dir, sub, 'a.log'), 'x\n');
  }
  await f.rotator.start();
  await f.tick();
  assert.deepEqual(await list(join(f.dir, 'open')), ['a.log']);
  assert.deepEqual(await list(join(f.dir, 'sticky')), ['a.log']);
  const health = f.rotator.health();
  assert.equal(health.status, 'degraded');
  assert.match(health.checks![0]!.message!, /writable by others \(mode 777\); refusing to rotate there/);
  assert.match(health.checks![1]!.message!, /mode 1777/);
});

test('symlinks are never followed and a path resolving outside the globs is refused', async (t) => {
  const f = await makeFixture((dir) => [{ name: 'app', paths: [join(dir, '*.log'), join(dir, 'apps', '*', 'out.log')], rotate: { maxSize: '1B' } }]);
  t.after(() => f.cleanup());
  const secret = join(f.dir, '..', 'secret.txt');
  await writeFile(secret, 'do not touch\n');
  await symlink(secret, join(f.dir, 'evil.log'));
  await mkdir(join(f.dir, 'apps'));
  await mkdir(join(f.dir, '..', 'elsewhere'));
  await writeFile(join(f.dir, '..', 'elsewhere', 'out.log'), 'outside\n');
  await symlink(join(f.dir, '..', 'elsewhere'), join(f.dir, 'apps', 'x'));
  await writeFile(join(f.dir, 'good.log'), 'ok\n');
  await f.rotator.start();
  await f.tick();
  assert.equal(await readFile(secret, 'utf8'), 'do not touch\n');
  assert.deepEqual(await list(join(f.dir, '..', 'elsewhere')), ['out.log']);
  assert.ok((await list(f.dir)).some((n) => n.startsWith('good.log-')), 'the safe file still rotates');
  const problems = f.rotator.status().logs[0]!.problems.join('\n');
  assert.match(problems, /evil\.log is a symlink; symlinks are never followed/);
  assert.match(problems, /outside the configured paths/);
});

test('a missing pid file, a failing command and a timed-out command are failures with the files kept', async (t) => {
  const f = await makeFixture((dir) => [
    { name: 'nopid', paths: [join(dir, 'a.log')], rotate: { maxSize: '1B' }, reopen: { signal: 'USR1', pidFile: join(dir, 'none.pid') } },
    { name: 'badcmd', paths: [join(dir, 'b.log')], rotate: { maxSize: '1B' }, reopen: { command: 'echo nope >&2; exit 3' } },
    { name: 'slowcmd', paths: [join(dir, 'c.log')], rotate: { maxSize: '1B' }, reopen: { command: 'sleep 5', timeout: '300ms' } },
  ]);
  t.after(() => f.cleanup());
  for (const name of ['a.log', 'b.log', 'c.log']) await writeFile(join(f.dir, name), `${name}\n`);
  await f.rotator.start();
  await f.tick();
  const outcomes = f.rotator.status().logs;
  assert.match(outcomes[0]!.problems.join(), /reopen: cannot read pid file .*none\.pid/);
  assert.match(outcomes[1]!.problems.join(), /reopen: .*exited with 3: nope/);
  assert.match(outcomes[2]!.problems.join(), /reopen: .*timed out after 300 ms/);
  for (const log of ['nopid', 'badcmd', 'slowcmd']) {
    assert.equal(await f.metric('caretaker_log_rotations_total', { log, result: 'failure' }), 1);
    assert.equal(await f.metric('caretaker_log_last_rotation_timestamp_seconds', { log }), undefined);
  }
  const names = await list(f.dir);
  for (const base of ['a.log', 'b.log', 'c.log']) assert.ok(names.some((n) => n.startsWith(`${base}-`)), `${base} rotated file kept`);
  assert.equal(f.rotator.health().status, 'degraded');
});

test('a writer that never lets go: failure reported, compression waits, then happens once it exits', async (t) => {
  const f = await makeFixture((dir) => [
    { name: 'stuck', paths: [join(dir, 'a.log')], rotate: { maxSize: '1B' }, compress: true, reopen: { signal: 'USR1', pidFile: join(dir, 'holder.pid'), timeout: '300ms' } },
  ]);
  t.after(() => f.cleanup());
  const live = join(f.dir, 'a.log');
  await writeFile(live, 'held\n');
  // Holds the file open and ignores USR1.
  const holder = spawn(process.execPath, ['-e', `const fs=require('fs'); fs.openSync(${JSON.stringify(live)}, 'a'); process.on('SIGUSR1', () => {}); fs.writeFileSync(${JSON.stringify(join(f.dir, 'holder.pid'))}, String(process.pid)); setInterval(() => {}, 1000);`], { stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  for (let i = 0; i < 200 && !(await list(f.dir)).includes('holder.pid'); i++) await new Promise((r) => setTimeout(r, 10));
  await f.rotator.start();
  await f.tick();
  const status = f.rotator.status().logs[0]!;
  assert.match(status.problems.join(), /still holds the rotated file/);
  assert.equal(status.files[0]!.pendingCompression, 1);
  assert.deepEqual((await list(f.dir)).filter((n) => n.startsWith('a.log-')), ['a.log-20260110T120000Z']);

  await new Promise((resolve) => {
    holder.once('exit', resolve);
    holder.kill('SIGKILL');
  });
  await f.tick();
  assert.deepEqual((await list(f.dir)).filter((n) => n.startsWith('a.log-')), ['a.log-20260110T120000Z.gz']);
});

test('missing files: reported unless missingOk', async (t) => {
  const f = await makeFixture((dir) => [
    { name: 'strict', paths: [join(dir, 'none-*.log')], rotate: { every: 'daily' } },
    { name: 'lenient', paths: [join(dir, 'none.log')], rotate: { every: 'daily' }, missingOk: true },
  ]);
  t.after(() => f.cleanup());
  await f.rotator.start();
  await f.tick();
  const [strict, lenient] = f.rotator.status().logs;
  assert.match(strict!.problems.join(), /no file matches .*none-\*\.log/);
  assert.deepEqual(lenient!.problems, []);
});

test('stop during a compression removes the partial .gz and keeps the rotated file; stop is idempotent', async (t) => {
  const f = await makeFixture((dir) => [{ name: 'big', paths: [join(dir, 'big.log')], rotate: { maxSize: '1GiB' }, compress: { level: 9 } }]);
  t.after(() => f.cleanup());
  await writeFile(join(f.dir, 'big.log'), slowToCompress());
  await f.rotator.start();
  await f.tick();
  const rotation = f.rotator.rotate('big').catch((err: unknown) => err);
  for (let i = 0; i < 500 && !(await list(f.dir)).some((n) => n.endsWith('.tmp')); i++) await new Promise((r) => setTimeout(r, 5));
  await Promise.all([f.rotator.stop(), f.rotator.stop()]);
  await rotation;
  const names = await list(f.dir);
  assert.ok(!names.some((n) => n.endsWith('.tmp') || n.endsWith('.gz')), names.join(', '));
  assert.ok(names.some((n) => /^big\.log-\d{8}T\d{6}Z$/.test(n)), 'the rotated file is kept for the next start');
  await assert.rejects(f.rotator.rotate('big'), { status: 503 });
});

test('at start, temp files of a killed compression are removed; look-alikes that are not ours are kept', async (t) => {
  const f = await makeFixture((dir) => [{ name: 'app', paths: [join(dir, 'app.log')], rotate: { maxSize: '1GiB' }, compress: true }]);
  t.after(() => f.cleanup());
  await writeFile(join(f.dir, 'app.log'), 'live\n');
  await writeFile(join(f.dir, 'app.log-20260110T110000Z'), 'rotated, its compression was killed\n');
  const leftover = '.app.log-20260110T110000Z.gz.0123456789ab.tmp';
  const strangers = [
    '.app.log-20260110T110000Z.gz.notes.tmp',
    '.app.log.0123456789ab.tmp',
    '.other.log-20260110T110000Z.gz.0123456789ab.tmp',
    'app.log-20260110T110000Z.gz.0123456789ab.tmp',
  ];
  for (const name of [leftover, ...strangers]) await writeFile(join(f.dir, name), 'half a gzip');
  // A directory with our naming is not a file compress.ts made either.
  const dirLookAlike = '.app.log-20260109T110000Z.gz.abcdefabcdef.tmp';
  await mkdir(join(f.dir, dirLookAlike));

  await f.rotator.start();
  await f.tick();
  const names = await list(f.dir);
  assert.ok(!names.includes(leftover), names.join(', '));
  for (const name of [...strangers, dirLookAlike]) assert.ok(names.includes(name), `${name} was removed`);
  assert.ok(names.includes('app.log-20260110T110000Z.gz'), 'the rotated file is compressed again');
  assert.deepEqual(f.rotator.status().logs[0]!.problems, []);
});

test('kill -9 of the real agent during a compression: the next start removes the temp file and compresses again', async (t) => {
  const temp = await makeTempDir('logs-kill');
  t.after(() => temp.cleanup());
  const dir = join(temp.path, 'logs');
  await mkdir(dir, { mode: 0o755 });
  const content = slowToCompress();
  await writeFile(join(dir, 'big.log'), content);
  const config = join(temp.path, 'caretaker.yaml');
  await writeFile(
    config,
    [
      `agent: { stateDir: ${join(temp.path, 'state')} }`,
      `admin: { listen: "127.0.0.1:${await freePort()}" }`,
      `metrics: { listen: "127.0.0.1:${await freePort()}", host: false }`,
      'logs:',
      `  - { name: big, paths: [${join(dir, 'big.log')}], rotate: { maxSize: 1MiB }, compress: { level: 9 } }`,
    ].join('\n'),
  );
  const isTemp = (name: string) => /^\.big\.log-\d{8}T\d{6}Z\.gz\.[0-9a-f]{12}\.tmp$/.test(name);

  const first = spawnCaretaker(['run', '--config', config]);
  t.after(() => first.child.kill('SIGKILL'));
  let names: string[] = [];
  for (let i = 0; i < 4000 && !names.some(isTemp); i++) {
    names = await list(dir);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  first.child.kill('SIGKILL');
  await first.exited;
  names = await list(dir);
  assert.ok(names.some(isTemp), `no temp file while compressing: ${names.join(', ')}; ${first.stderr()}`);
  const rotated = names.find((n) => /^big\.log-\d{8}T\d{6}Z$/.test(n));
  assert.ok(rotated, `the rotated file is there: ${names.join(', ')}`);

  const second = spawnCaretaker(['run', '--config', config]);
  t.after(() => second.child.kill('SIGKILL'));
  const removed = await second.waitForLine((line) => line.msg === 'leftover compression temp file removed', 30_000);
  assert.ok(isTemp(String(removed.file).split('/').pop()!), JSON.stringify(removed));
  await second.waitForLine((line) => line.msg === 'rotated file compressed', 120_000);
  second.child.kill('SIGTERM');
  assert.equal((await second.exited).code, 0);
  names = await list(dir);
  assert.deepEqual(names.filter((n) => n.startsWith('.')), [], names.join(', '));
  assert.ok(names.includes(`${rotated}.gz`), names.join(', '));
  assert.ok((await readLog(join(dir, `${rotated}.gz`))) === content.toString('utf8'), 'the compressed file holds the whole rotated log');
});
