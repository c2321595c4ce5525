import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256FileInWorker } from '../../../src/modules/backups/digest.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { fillDatabase } from './pg-data.js';
import { startBackups, type Harnessed } from './support.js';

const sha256sum = (path: string) => execFileSync('sha256sum', ['--binary', path], { encoding: 'utf8' }).split(' ')[0]!.replace(/^\\/, '');

async function openDescriptorsTo(target: string): Promise<number> {
  let count = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === target) count++;
  }
  return count;
}

describe('the sha256 of a run', () => {
  let dir: TempDir;
  before(async () => {
    dir = await makeTempDir('run-digest');
  });
  after(async () => {
    await dir?.cleanup();
  });

  it('sha256FileInWorker gives the digest sha256sum prints, for an empty file and one longer than its read buffer', async () => {
    const empty = join(dir.path, 'empty');
    const big = join(dir.path, 'big');
    await writeFile(empty, '');
    // 3.5 MiB of varied bytes: several reads of the worker's 1 MiB buffer, the last one short.
    await writeFile(big, Buffer.from(Array.from({ length: 3.5 * 1024 * 1024 }, (_, i) => (i * 31 + (i >> 11)) & 0xff)));
    const signal = new AbortController().signal;
    assert.equal(await sha256FileInWorker(empty, signal), sha256sum(empty));
    assert.equal(await sha256FileInWorker(big, signal), sha256sum(big));
  });

  it('an abort ends the hash of an endless file and leaves no descriptor open', async () => {
    const before = await openDescriptorsTo('/dev/zero');
    const controller = new AbortController();
    const hashing = sha256FileInWorker('/dev/zero', controller.signal);
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    await assert.rejects(hashing);
    assert.ok(Date.now() - started < 5000, 'the abort did not end the hash promptly');
    assert.equal(await openDescriptorsTo('/dev/zero'), before);
  });

  it('a missing file is a clear error naming it', async () => {
    await assert.rejects(sha256FileInWorker(join(dir.path, 'nope'), new AbortController().signal), /ENOENT.*nope/);
  });
});

describe('a postgres run reads its dump once for the sha256', () => {
  let pg: PostgresServer;
  let dir: TempDir;
  let backups: Harnessed;
  const path = process.env.PATH;

  before(async () => {
    [pg, dir] = await Promise.all([startPostgres(), makeTempDir('run-digest-pg')]);
    await fillDatabase(pg, 'app');
    // A sha256sum first on PATH that logs each call: a run must not need one.
    const shim = join(dir.path, 'bin');
    await mkdir(shim);
    await writeFile(join(shim, 'sha256sum'), `#!/bin/sh\necho "$@" >> ${join(dir.path, 'sha256sum.log')}\nexec /usr/bin/sha256sum "$@"\n`);
    await chmod(join(shim, 'sha256sum'), 0o755);
    process.env.PATH = `${shim}:${path}`;
    backups = await startBackups({
      dir: join(dir.path, 'backups'),
      jobs: [{ name: 'pg', type: 'postgres', url: pg.url.replace(/\/postgres$/, '/app'), schedule: '0 3 * * *' }],
    });
  });

  after(async () => {
    process.env.PATH = path;
    await backups?.dispose();
    await pg?.stop();
    await dir?.cleanup();
  });

  it('hashed by the worker while the fsync runs, not by sha256sum twice; the manifest has the file\'s digest', async () => {
    backups.runner.runNow('pg');
    await backups.settled();
    const job = backups.runner.job('pg');
    assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
    const file = join(dir.path, 'backups', 'pg', job.latest!);
    const calls = await readFile(join(dir.path, 'sha256sum.log'), 'utf8').catch(() => '');
    assert.equal(calls, '', 'the run started sha256sum');
    const manifest = JSON.parse(await readFile(`${file}.json`, 'utf8'));
    assert.equal(manifest.sha256, sha256sum(file));
    assert.equal(manifest.verify.method, 'sha256 + pg_restore --list');
    // verify (the CLI's re-check) still reads the file again, by sha256sum (so the shim is on the tools' PATH), and agrees.
    const verified = await backups.cli(['verify', 'pg', 'latest']);
    assert.equal(verified.code, 0, verified.err);
    assert.match(await readFile(join(dir.path, 'sha256sum.log'), 'utf8'), new RegExp(job.latest!.replace(/\./g, '\\.')));
  });
});
