import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { backupsDoctor } from '../../../src/modules/backups/doctor.js';
import { configSchema } from '../../../src/modules/backups/config.js';
import { readManifest } from '../../../src/modules/backups/manifest.js';
import { choosePgTool } from '../../../src/modules/backups/postgres/tools.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { callsOf, stubMajor } from './pg-stubs.js';
import { startBackups, type Harnessed } from './support.js';

const DAILY = '0 3 * * *';
describe('postgres tools chosen by the server major', () => {
  let pg: PostgresServer;
  let dir: TempDir;
  let roots: TempDir;
  let backups: Harnessed;
  let appUrl: string;
  /** 14 and 16: the server (15) takes 16, the oldest not older than itself. */
  let twoMajors: string;
  /** 14 only: too old for the server. */
  let olderOnly: string;

  before(async () => {
    [pg, dir, roots] = await Promise.all([startPostgres(), makeTempDir('backups-pgversions'), makeTempDir('pg-bin-roots')]);
    await pg.psql('CREATE DATABASE app');
    await pg.psql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g;", 'app');
    appUrl = pg.url.replace(/\/postgres$/, '/app');
    twoMajors = join(roots.path, 'two');
    olderOnly = join(roots.path, 'older');
    await Promise.all([stubMajor(twoMajors, '14.11'), stubMajor(twoMajors, '16.4'), stubMajor(olderOnly, '14.11')]);
    await mkdir(join(roots.path, 'bindir14'));
    await stubMajor(join(roots.path, 'bindir14'), '14.11');
    backups = await startBackups({
      dir: dir.path,
      jobs: [
        { name: 'pgtwo', type: 'postgres', url: appUrl, schedule: DAILY, binRoot: twoMajors, globals: true },
        { name: 'pgold', type: 'postgres', url: appUrl, schedule: DAILY, binRoot: olderOnly },
        { name: 'pgbindir', type: 'postgres', url: appUrl, schedule: DAILY, binDir: join(roots.path, 'bindir14', '14', 'bin') },
      ],
    });
  });

  after(async () => {
    await backups?.dispose();
    await pg?.stop();
    await dir?.cleanup();
    await roots?.cleanup();
  });

  it('chooses the oldest major not older than the server, the newest without a server, and names the package when none will do', () => {
    const job = { url: appUrl, binRoot: twoMajors };
    assert.equal(choosePgTool(job, 'pg_dump', 15).dir, join(twoMajors, '16', 'bin'));
    assert.equal(choosePgTool(job, 'pg_dump', 14).dir, join(twoMajors, '14', 'bin'));
    assert.equal(choosePgTool(job, 'pg_dump', 13).dir, join(twoMajors, '14', 'bin'));
    assert.equal(choosePgTool(job, 'pg_restore', undefined).dir, join(twoMajors, '16', 'bin'));
    assert.throws(() => choosePgTool(job, 'pg_dump', 17), { message: 'server is PostgreSQL 17, newest pg_dump here is 16: install postgresql-client-17 (PGDG)' });
    assert.deepEqual(choosePgTool({ url: appUrl, binRoot: join(roots.path, 'nothing-here') }, 'pg_dump', 15), {}, 'no such layout: PATH');
    assert.deepEqual(choosePgTool({ url: appUrl, exec: ['runuser', '-u', 'postgres', '--'] }, 'pg_dump', 15), { exec: ['runuser', '-u', 'postgres', '--'] });
  });

  it('a run dumps with the chosen major and records its version; the restore picks for its target the same way', async () => {
    backups.runner.runNow('pgtwo');
    await backups.settled();
    const job = backups.runner.job('pgtwo');
    assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
    const manifest = await readManifest(join(dir.path, 'pgtwo', job.latest!));
    assert.equal(manifest?.tools.pg_dump, '16.4');
    assert.equal(manifest?.tools.pg_dumpall, '16.4');
    assert.match(manifest?.tools.server ?? '', /^15\./);
    assert.deepEqual(await callsOf(twoMajors, '14'), [], 'the older major is never run');
    const calls = await callsOf(twoMajors, '16');
    assert.ok(calls.some((c) => c.startsWith('pg_dump --format=custom')), calls.join('\n'));
    assert.ok(calls.some((c) => c.startsWith('pg_dumpall --globals-only')), calls.join('\n'));

    await pg.psql('DELETE FROM t WHERE id > 10', 'app');
    const restored = await backups.cli(['restore', 'pgtwo', 'latest'], { yes: true, globals: 'no' });
    assert.equal(restored.code, 0, restored.err + restored.out);
    assert.equal((await pg.psql('SELECT count(*) FROM t', 'app')).trim(), '1000');
    assert.ok((await callsOf(twoMajors, '16')).some((c) => c.startsWith('pg_restore --clean')), 'pg_restore of 16 restored into the 15 server');
  });

  it('with only older majors the run fails before any dump, naming the package; nothing is written', async () => {
    backups.runner.runNow('pgold');
    await backups.settled();
    const job = backups.runner.job('pgold');
    assert.equal(job.state, 'failed');
    assert.match(job.lastRun?.message ?? '', /^server is PostgreSQL 15, newest pg_dump here is 14: install postgresql-client-15 \(PGDG\)$/);
    assert.deepEqual(await callsOf(olderOnly, '14'), [], 'no pg_dump was started');
    assert.deepEqual(await readdir(join(dir.path, 'pgold')).catch(() => []), [], 'no partial file');
  });

  it('a binDir older than the server is refused the same way, saying to point binDir elsewhere', async () => {
    backups.runner.runNow('pgbindir');
    await backups.settled();
    const job = backups.runner.job('pgbindir');
    assert.match(job.lastRun?.message ?? '', /^server is PostgreSQL 15, newest pg_dump here is 14\.11: install postgresql-client-15 \(PGDG\) and point binDir at its bin directory/);
    assert.deepEqual(await callsOf(join(roots.path, 'bindir14'), '14'), [], 'only --version was asked');
    assert.deepEqual(await readdir(join(dir.path, 'pgbindir')).catch(() => []), []);
  });

  it("doctor's pg_dump line makes the run's choice", async () => {
    const config = configSchema.parse({
      dir: dir.path,
      jobs: [
        { name: 'pgtwo', type: 'postgres', url: appUrl, schedule: DAILY, binRoot: twoMajors },
        { name: 'pgold', type: 'postgres', url: appUrl, schedule: DAILY, binRoot: olderOnly },
      ],
    });
    const lines = await backupsDoctor(config, { sandbox: undefined, stateDir: dir.path, signal: AbortSignal.timeout(30_000), resolve: async () => [], httpPort: 80 });
    const two = lines.find((l) => l.check === 'pg_dump pgtwo');
    assert.equal(two?.status, 'ok');
    assert.match(two?.detail ?? '', new RegExp(`^pg_dump 16\\.4 \\(${join(twoMajors, '16', 'bin')}\\) for server 15\\.`));
    const old = lines.find((l) => l.check === 'pg_dump pgold');
    assert.equal(old?.status, 'fail');
    assert.equal(old?.detail, 'server is PostgreSQL 15, newest pg_dump here is 14: install postgresql-client-15 (PGDG)');
  });
});
