import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { fillDatabase, snapshotDatabase } from './pg-data.js';
import { startBackups, type Harnessed } from './support.js';

const DAILY = '0 3 * * *';

/** Roles pg_dump leaves out: an owner with a password and a group role holding a grant. */
async function createRoles(pg: PostgresServer): Promise<void> {
  await pg.psql("CREATE ROLE app_owner LOGIN PASSWORD 'owner-pass' CONNECTION LIMIT 7; CREATE ROLE reader NOLOGIN; GRANT reader TO app_owner;");
  await pg.psql('ALTER TABLE customers OWNER TO app_owner; GRANT SELECT ON orders TO reader;', 'app');
}

async function rolesSnapshot(pg: PostgresServer): Promise<string> {
  return (
    await pg.psql(
      `SELECT string_agg(rolname || ':' || rolcanlogin || ':' || rolconnlimit || ':' || coalesce(rolpassword, '-'), ' ' ORDER BY rolname)
       FROM pg_authid WHERE rolname IN ('app_owner', 'reader')`,
    )
  ).trim();
}

async function grantsSnapshot(pg: PostgresServer): Promise<string> {
  return (
    await pg.psql(
      `SELECT (SELECT tableowner FROM pg_tables WHERE tablename = 'customers') || ' ' ||
              has_table_privilege('reader', 'orders', 'SELECT') || ' ' || pg_has_role('app_owner', 'reader', 'MEMBER')`,
      'app',
    )
  ).trim();
}

describe('postgres globals and directory format (jobs: N)', () => {
  let pg: PostgresServer;
  let dir: TempDir;
  let backups: Harnessed;
  let appUrl: string;

  before(async () => {
    [pg, dir] = await Promise.all([startPostgres(), makeTempDir('backups-pgformats')]);
    await fillDatabase(pg, 'app', 20_000);
    await createRoles(pg);
    appUrl = pg.url.replace(/\/postgres$/, '/app');
    backups = await startBackups({
      dir: dir.path,
      jobs: [
        { name: 'pgdir', type: 'postgres', url: appUrl, schedule: DAILY, jobs: 2, globals: true, retention: { keepLast: 1 } },
        { name: 'pgglobals', type: 'postgres', url: appUrl, schedule: DAILY, globals: true },
        { name: 'pglocked', type: 'postgres', url: appUrl, schedule: DAILY, jobs: 2, globals: true, lockTimeout: '1s' },
      ],
    });
  });

  after(async () => {
    await backups?.dispose();
    await pg?.stop();
    await dir?.cleanup();
  });

  it('jobs: 2 writes a verified directory with the globals beside it; the CLI restores roles, then the database, onto a wiped cluster', async () => {
    const beforeData = await snapshotDatabase(pg, 'app');
    const beforeRoles = await rolesSnapshot(pg);
    const beforeGrants = await grantsSnapshot(pg);
    assert.equal(beforeGrants, 'app_owner true true');

    backups.runner.runNow('pgdir');
    await backups.settled();
    const job = backups.runner.job('pgdir');
    assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
    const latest = job.latest!;
    assert.match(latest, /^pgdir-\d{8}T\d{6}\.\d{3}Z\.dir$/);
    const path = join(dir.path, 'pgdir', latest);
    assert.ok((await stat(path)).isDirectory());
    const inside = await readdir(path);
    assert.ok(inside.includes('toc.dat'), inside.join(','));
    assert.ok(inside.filter((f) => /^\d+\.dat/.test(f)).length >= 2, 'one data file per table');

    const manifest = JSON.parse(await readFile(`${path}.json`, 'utf8'));
    assert.equal(manifest.layout, 'directory');
    assert.equal(manifest.verify.method, 'sha256 + pg_restore --list');
    assert.equal(manifest.sizeBytes, job.backups[0]!.sizeBytes);
    assert.equal(manifest.companions.length, 1);
    assert.equal(manifest.companions[0].file, `${latest}.globals.sql`);
    assert.match(manifest.tools.pg_dumpall, /^\d+\.\d+/);
    const globals = await readFile(join(dir.path, 'pgdir', `${latest}.globals.sql`), 'utf8');
    assert.match(globals, /CREATE ROLE app_owner;/);
    assert.match(globals, /GRANT reader TO app_owner/);
    assert.equal((await stat(join(dir.path, 'pgdir', `${latest}.globals.sql`))).mode & 0o777, 0o600);

    const verify = await backups.cli(['verify', 'pgdir', 'latest']);
    assert.equal(verify.code, 0, verify.err);
    assert.match(verify.out, /OK \(sha256 \+ pg_restore --list; globals\.sql: sha256 \+ pg_dumpall completion line\)/);

    // A cluster that lost the database and the roles: pg_restore alone would fail on OWNER TO app_owner.
    await pg.psql('DROP DATABASE app');
    await pg.psql('DROP ROLE app_owner; DROP ROLE reader;');
    await pg.psql('CREATE DATABASE app');
    const restored = await backups.cli(['restore', 'pgdir', 'latest'], { yes: true });
    assert.equal(restored.code, 0, restored.err);
    assert.equal(await rolesSnapshot(pg), beforeRoles);
    assert.equal(await grantsSnapshot(pg), beforeGrants);
    assert.deepEqual(await snapshotDatabase(pg, 'app'), beforeData);
  });

  it('restoring globals onto roles that exist: "already exists" is tolerated and the backup\'s password and attributes win', async () => {
    const beforeRoles = await rolesSnapshot(pg);
    await pg.psql("ALTER ROLE app_owner PASSWORD 'changed' CONNECTION LIMIT 1; CREATE ROLE extra_role;");
    assert.notEqual(await rolesSnapshot(pg), beforeRoles);
    const restored = await backups.cli(['restore', 'pgdir', 'latest'], { yes: true });
    assert.equal(restored.code, 0, restored.err);
    assert.equal(await rolesSnapshot(pg), beforeRoles);
    assert.equal((await pg.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'extra_role'")).trim(), '1', 'roles absent from the backup are left alone');

    await pg.psql("ALTER ROLE app_owner PASSWORD 'changed again'");
    const skipped = await backups.cli(['restore', 'pgdir', 'latest'], { yes: true, globals: 'no' });
    assert.equal(skipped.code, 0, skipped.err);
    assert.notEqual(await rolesSnapshot(pg), beforeRoles, '--globals=no leaves roles as they are');
    await pg.psql("ALTER ROLE app_owner PASSWORD 'owner-pass'");
  });

  it('custom format with globals: the companion is beside the .dump; a tampered companion fails verify and is refused by restore', async () => {
    backups.runner.runNow('pgglobals');
    await backups.settled();
    const job = backups.runner.job('pgglobals');
    assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
    assert.match(job.latest!, /\.dump$/);
    const companion = join(dir.path, 'pgglobals', `${job.latest}.globals.sql`);
    await writeFile(companion, (await readFile(companion, 'utf8')).replace('CREATE ROLE reader;', 'CREATE ROLE readr;'));
    const verify = await backups.cli(['verify', 'pgglobals', 'latest']);
    assert.equal(verify.code, 1);
    assert.match(verify.out, /FAILED: .*globals\.sql: sha256 mismatch/);
    const restore = await backups.cli(['restore', 'pgglobals', 'latest'], { yes: true });
    assert.equal(restore.code, 1);
    assert.match(restore.err, /refusing to restore/);
  });

  it('retention removes a directory backup together with its globals and manifest', async () => {
    backups.runner.runNow('pgdir');
    await backups.settled();
    assert.equal(backups.runner.job('pgdir').state, 'ok');
    const names = (await readdir(join(dir.path, 'pgdir'))).sort();
    assert.equal(names.length, 3, names.join(','));
    const latest = backups.runner.job('pgdir').latest!;
    assert.deepEqual(names, [latest, `${latest}.globals.sql`, `${latest}.json`].sort());
  });

  it('a failed directory dump (lock wait timeout) leaves neither a .dir.partial directory nor a globals file', async () => {
    const holder = await import('pg').then(({ default: pgLib }) => new pgLib.Client({ connectionString: appUrl }));
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
      backups.runner.runNow('pglocked');
      await backups.settled();
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    const job = backups.runner.job('pglocked');
    assert.equal(job.state, 'failed');
    assert.match(job.lastRun!.message!, /lockTimeout/);
    assert.deepEqual(await readdir(join(dir.path, 'pglocked')), []);
  });

  it('start-up removes a .dir.partial directory and orphan sidecars left by a killed run', async () => {
    const folder = join(dir.path, 'pgleft');
    const stamp = 'pgleft-20240101T000000.000Z.dir';
    await mkdir(join(folder, `${stamp}.partial`), { recursive: true });
    await writeFile(join(folder, `${stamp}.partial`, 'toc.dat'), 'half');
    await writeFile(join(folder, `${stamp}.globals.sql`), '-- orphan');
    await writeFile(join(folder, `${stamp}.json`), '{}');
    await writeFile(join(folder, 'unrelated.txt'), 'keep me');
    const other = await startBackups({ dir: dir.path, jobs: [{ name: 'pgleft', type: 'postgres', url: appUrl, schedule: DAILY, jobs: 2 }] });
    try {
      await other.settled();
      assert.deepEqual(await readdir(folder), ['unrelated.txt']);
    } finally {
      await other.dispose();
    }
  });
});
