import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readManifest } from '../../../src/modules/backups/manifest.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { callsOf, REAL_MAJOR, stubMajor } from './pg-stubs.js';
import { startBackups, type Harnessed } from './support.js';

const DAILY = '0 3 * * *';

/**
 * A managed server from the outside (RDS, Cloud SQL, Azure): the job's role owns its database and may create
 * roles, but is no superuser, so pg_authid is closed to it; one table in the database belongs to someone else.
 */
describe('postgres on a managed server: no superuser', () => {
  let pg: PostgresServer;
  let dir: TempDir;
  let root: TempDir;
  let backups: Harnessed;
  let adminUrl: string;

  before(async () => {
    [pg, dir, root] = await Promise.all([startPostgres(), makeTempDir('backups-pgmanaged'), makeTempDir('pg-bin-root')]);
    await stubMajor(root.path, `${REAL_MAJOR}.0`);
    await pg.psql("CREATE ROLE rds_admin LOGIN CREATEROLE PASSWORD 'admin-pass'; CREATE ROLE app_user LOGIN PASSWORD 'user-pass'");
    await pg.psql('CREATE DATABASE app OWNER rds_admin');
    await pg.psql('CREATE TABLE "Audit Log" (id int); CREATE SCHEMA vault; CREATE TABLE vault.secrets (id int);', 'app');
    // What the role owns it reads: its own tables are not in the refusal.
    await pg.psql('SET ROLE rds_admin; CREATE TABLE public.orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 100);', 'app');
    adminUrl = pg.url.replace(/\/\/postgres:[^@]+@/, '//rds_admin:admin-pass@').replace(/\/postgres$/, '/app');
    backups = await startBackups({
      dir: dir.path,
      jobs: [
        { name: 'managed', type: 'postgres', url: adminUrl, schedule: DAILY, globals: true, binRoot: root.path },
        { name: 'super', type: 'postgres', url: pg.url.replace(/\/postgres$/, '/app'), schedule: DAILY, globals: true },
      ],
    });
  });

  after(async () => {
    await backups?.dispose();
    await pg?.stop();
    await dir?.cleanup();
    await root?.cleanup();
  });

  it('a role that cannot read some tables is told which, before any tool runs; nothing is written', async () => {
    backups.runner.runNow('managed');
    await backups.settled();
    const job = backups.runner.job('managed');
    assert.equal(job.state, 'failed');
    assert.equal(
      job.lastRun?.message,
      'role rds_admin cannot read 2 tables public."Audit Log", vault.secrets: GRANT SELECT on them to rds_admin, or GRANT pg_read_all_data TO rds_admin (PostgreSQL 14+)',
    );
    assert.deepEqual(await callsOf(root.path, REAL_MAJOR), [], 'neither pg_dumpall nor pg_dump was started');
    assert.deepEqual(await readdir(join(dir.path, 'managed')).catch(() => []), [], 'no partial file');
  });

  it('once granted it dumps; the globals come without role passwords and the manifest says so', async () => {
    await pg.psql('GRANT SELECT ON "Audit Log" TO rds_admin; GRANT USAGE ON SCHEMA vault TO rds_admin; GRANT SELECT ON vault.secrets TO rds_admin;', 'app');
    backups.runner.runNow('managed');
    await backups.settled();
    const job = backups.runner.job('managed');
    assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
    const manifest = await readManifest(join(dir.path, 'managed', job.latest!));
    assert.deepEqual(manifest?.companions[0]?.details, { rolePasswords: false });
    assert.ok((await callsOf(root.path, REAL_MAJOR)).some((c) => c.startsWith('pg_dumpall --globals-only') && c.includes('--no-role-passwords')));
    const globals = await readFile(join(dir.path, 'managed', `${job.latest}.globals.sql`), 'utf8');
    assert.match(globals, /CREATE ROLE app_user;/);
    assert.doesNotMatch(globals, /PASSWORD/);
  });

  it('the restore recreates the roles and says their passwords must be reset', async () => {
    await pg.psql('DROP ROLE app_user');
    const latest = backups.runner.job('managed').latest!;
    // Into the superuser's connection: roles with SUPERUSER in the dump (postgres) can only be altered by one.
    const to = pg.url.replace(/\/postgres$/, '/app');
    const restored = await backups.cli(['restore', 'managed', latest], { yes: true, to });
    assert.equal(restored.code, 0, restored.err + restored.out);
    assert.match(restored.out, /^restored .* into .*\nrole passwords were not in the backup \(the role could not read pg_authid\): reset them with ALTER ROLE … PASSWORD$/);
    assert.equal((await pg.psql("SELECT rolcanlogin || ' ' || (rolpassword IS NULL) FROM pg_authid WHERE rolname = 'app_user'")).trim(), 'true true');
    assert.equal((await pg.psql('SELECT count(*) FROM orders', 'app')).trim(), '100');
  });

  it('pg_read_all_data is enough to read every table', async () => {
    await pg.psql('REVOKE SELECT ON "Audit Log" FROM rds_admin; REVOKE USAGE ON SCHEMA vault FROM rds_admin; GRANT pg_read_all_data TO rds_admin;', 'app');
    backups.runner.runNow('managed');
    await backups.settled();
    assert.equal(backups.runner.job('managed').state, 'ok', JSON.stringify(backups.runner.job('managed').lastRun));
  });

  it('a superuser keeps the passwords, and its restore has nothing to add', async () => {
    backups.runner.runNow('super');
    await backups.settled();
    const job = backups.runner.job('super');
    assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
    const manifest = await readManifest(join(dir.path, 'super', job.latest!));
    assert.deepEqual(manifest?.companions[0]?.details, { rolePasswords: true });
    const restored = await backups.cli(['restore', 'super', job.latest!], { yes: true });
    assert.equal(restored.code, 0, restored.err + restored.out);
    assert.doesNotMatch(restored.out, /passwords/);
  });
});
