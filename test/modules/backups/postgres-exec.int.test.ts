import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../../../src/modules/backups/config.js';
import { readManifest } from '../../../src/modules/backups/manifest.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { fillDatabase, snapshotDatabase } from './pg-data.js';
import { startBackups, type Harnessed } from './support.js';

const DAILY = '0 3 * * *';
/** Enters the postgres OS user, as `docker exec -i pg` enters a container: the only way into a server with peer auth on a socket only that user reaches. */
const AS_POSTGRES = ['runuser', '-u', 'postgres', '--'];

function issues(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('postgres jobs through exec: (a server no port of this host reaches)', () => {
  let pg: PostgresServer;
  let dir: TempDir;
  let backups: Harnessed;
  let appUrl: string;

  before(async () => {
    [pg, dir] = await Promise.all([startPostgres({ socketOnly: true }), makeTempDir('backups-pgexec')]);
    await fillDatabase(pg, 'app', 5_000);
    await pg.psql("CREATE ROLE app_owner LOGIN PASSWORD 'owner-pass'; ALTER DATABASE app OWNER TO app_owner");
    appUrl = pg.url.replace('/postgres?', '/app?');
    backups = await startBackups({
      dir: dir.path,
      jobs: [
        { name: 'inside', type: 'postgres', url: appUrl, schedule: DAILY, exec: AS_POSTGRES, globals: true },
        { name: 'outside', type: 'postgres', url: appUrl, schedule: DAILY },
      ],
    });
  });

  after(async () => {
    await backups?.dispose();
    await pg?.stop();
    await dir?.cleanup();
  });

  it('without exec the server cannot be reached from here (peer authentication as root fails)', async () => {
    backups.runner.runNow('outside');
    await backups.settled();
    const job = backups.runner.job('outside');
    assert.equal(job.state, 'failed');
    assert.match(job.lastRun?.message ?? '', /Peer authentication failed/i);
  });

  it('backs up through the prefix (version check, dump, globals, pg_restore --list on stdin) and restores through it', async () => {
    const before = await snapshotDatabase(pg, 'app');
    backups.runner.runNow('inside');
    await backups.settled();
    const job = backups.runner.job('inside');
    assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
    const manifest = await readManifest(join(dir.path, 'inside', job.latest!));
    assert.match(manifest?.tools.pg_dump ?? '', /^\d+\.\d+$/);
    assert.match(manifest?.tools.server ?? '', /^\d+\.\d+$/);
    assert.equal(manifest?.verify.method, 'sha256 + pg_restore --list');
    assert.deepEqual(manifest?.companions[0]?.details, { rolePasswords: true });

    const verify = await backups.cli(['verify', 'inside', 'latest']);
    assert.equal(verify.code, 0, verify.out + verify.err);

    await pg.psql('DROP TABLE orders CASCADE; DELETE FROM customers WHERE id > 10', 'app');
    await pg.psql("ALTER ROLE app_owner PASSWORD 'changed'");
    const restored = await backups.cli(['restore', 'inside', 'latest'], { yes: true });
    assert.equal(restored.code, 0, restored.err + restored.out);
    assert.deepEqual(await snapshotDatabase(pg, 'app'), before);
    assert.match((await pg.psql("SELECT rolpassword FROM pg_authid WHERE rolname = 'app_owner'")).trim(), /^SCRAM-SHA-256\$/);
  });

  it('a pg_restore that fails through the prefix fails the restore with its exit status and words', async () => {
    const latest = backups.runner.job('inside').latest!;
    const restored = await backups.cli(['restore', 'inside', latest], { yes: true, globals: 'no', to: appUrl.replace('/app?', '/no_such_db?') });
    assert.equal(restored.code, 1);
    assert.match(restored.err, /database "no_such_db" does not exist/);
  });

  it('nothing is left behind by a failed run through the prefix', async () => {
    assert.deepEqual((await readdir(join(dir.path, 'outside')).catch(() => [])).length, 0);
  });
});

describe('exec: at load', () => {
  const job = { name: 'pg', type: 'postgres', url: 'postgres://app@127.0.0.1/app', schedule: DAILY };

  it('a valid prefix is kept as given', () => {
    const parsed = configSchema.parse({ jobs: [{ ...job, exec: ['runuser', '-u', 'postgres', '--'] }] });
    assert.deepEqual(parsed.jobs[0]!.type === 'postgres' && parsed.jobs[0]!.exec, ['runuser', '-u', 'postgres', '--']);
  });

  it('each mistake is reported at its key', () => {
    assert.deepEqual(issues({ jobs: [{ ...job, exec: [] }] }), ['jobs.0.exec: names no program: give e.g. [docker, exec, -i, pg], or leave exec out']);
    assert.deepEqual(issues({ jobs: [{ ...job, exec: 'docker exec -i pg' }] }), ['jobs.0.exec: expected a list of arguments such as [docker, exec, -i, pg]']);
    assert.deepEqual(issues({ jobs: [{ ...job, exec: ['docker', 7] }] }), ['jobs.0.exec.1: each element is one argument, a string']);
    assert.deepEqual(issues({ jobs: [{ ...job, exec: ['bin/docker', 'exec'] }] }), ['jobs.0.exec.0: bin/docker: give a program name found on PATH or an absolute path']);
    assert.deepEqual(issues({ jobs: [{ ...job, exec: ['no-such-engine-here'] }] }), ['jobs.0.exec.0: no-such-engine-here: not found on PATH']);
    assert.deepEqual(issues({ jobs: [{ ...job, exec: ['/nonexistent/docker'] }] }), ['jobs.0.exec.0: /nonexistent/docker: not an executable file']);
    assert.deepEqual(issues({ jobs: [{ ...job, exec: ['runuser', ''] }] }), ['jobs.0.exec.1: an empty argument']);
  });

  it('options that cannot work through a prefix are refused at their key', () => {
    const exec = ['runuser', '-u', 'postgres', '--'];
    assert.deepEqual(issues({ jobs: [{ ...job, exec, jobs: 2 }] }), [
      'jobs.0.jobs: a directory dump is written where exec runs pg_dump, not here: leave jobs out with exec (one custom-format file is streamed)',
    ]);
    assert.deepEqual(issues({ jobs: [{ ...job, exec, binDir: '/usr/bin' }] }), ['jobs.0.binDir: the tools run through exec (runuser), so binDir would not be read: leave it out']);
    assert.deepEqual(issues({ jobs: [{ ...job, exec, drill: { schedule: DAILY, to: 'postgres://app@127.0.0.1/scratch' } }] }), [
      'jobs.0.drill: a drill counts rows over a connection from this host, which exec is there to avoid: not supported with exec yet',
    ]);
    assert.deepEqual(issues({ jobs: [{ ...job, binDir: '/usr/lib/postgresql/15/bin', binRoot: '/usr/lib/postgresql' }] }), ['jobs.0.binRoot: give binDir (one set of tools) or binRoot (one per major), not both']);
  });
});
