import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { runCommand } from '../../harness/process.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { startBackups, waitFor, type Harnessed } from './support.js';

const DAILY = '0 3 * * *';

describe('backups failure paths', () => {
  let server: PostgresServer;
  let redis: RedisServer;
  let dir: TempDir;
  let url: (db: string) => string;

  before(async () => {
    [server, redis, dir] = await Promise.all([startPostgres(), startRedis(), makeTempDir('backups-faults')]);
    url = (db) => server.url.replace(/\/postgres$/, `/${db}`);
    await server.psql('CREATE DATABASE app');
    await server.psql("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g", 'app');
  });

  after(async () => {
    await Promise.all([server?.stop(), redis?.stop()]);
    await dir?.cleanup();
  });

  /** Holds an ACCESS EXCLUSIVE lock on table t so pg_dump blocks mid-run until released. */
  async function lockTable(): Promise<{ release(): Promise<void> }> {
    const client = new pg.Client({ connectionString: url('app') });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('BEGIN');
    await client.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    return {
      async release() {
        await client.query('ROLLBACK').catch(() => undefined);
        await client.end().catch(() => undefined);
      },
    };
  }

  const pgDumpWaiting = async () =>
    (await server.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'")).trim() !== '0';

  const filesOf = async (job: string, root = dir.path) => (await readdir(join(root, job)).catch(() => [])).sort();

  it('pg server stopped mid-dump: the run fails, no file looks valid, the previous backup stays intact; 409 meanwhile', async () => {
    const b = await startBackups({ dir: dir.path, jobs: [{ name: 'pg-stop', type: 'postgres', url: url('app'), schedule: DAILY }] });
    try {
      b.runner.runNow('pg-stop');
      await b.settled();
      const previous = await filesOf('pg-stop');
      assert.equal(previous.length, 2);

      const lock = await lockTable();
      b.runner.runNow('pg-stop');
      await waitFor('pg_dump blocked on the lock', pgDumpWaiting);
      const conflict = await b.app.inject({ method: 'POST', url: '/backups/pg-stop/run' });
      assert.equal(conflict.statusCode, 409);
      assert.equal((conflict.json() as { error: string }).error, 'conflict');
      assert.equal(b.runner.job('pg-stop').state, 'running');
      assert.ok((await filesOf('pg-stop')).some((f) => f.endsWith('.partial')));

      await server.down();
      await b.settled();
      await lock.release();
      const job = b.runner.job('pg-stop');
      assert.equal(job.state, 'failed');
      assert.equal(job.lastRun?.reason, 'error');
      assert.match(job.lastRun!.message!, /pg_dump exited with 1/);
      assert.deepEqual(await filesOf('pg-stop'), previous);
      const verify = await b.cli(['verify', 'pg-stop', previous[0]!]);
      assert.equal(verify.code, 0, verify.out + verify.err);
      assert.match(await b.metricsText(), /caretaker_backup_runs_total\{backup="pg-stop",result="failure"\} 1/);
      assert.match(await b.metricsText(), /caretaker_backup_last_success_timestamp_seconds\{backup="pg-stop"\} \d/);
    } finally {
      await server.up();
      await b.dispose();
    }
  });

  it('lock wait timeout, job timeout, overlapping ticks and stop() each end the run cleanly', async () => {
    const lock = await lockTable();
    const b = await startBackups({
      dir: dir.path,
      jobs: [
        { name: 'pg-lock', type: 'postgres', url: url('app'), schedule: DAILY, lockTimeout: '1s' },
        { name: 'pg-timeout', type: 'postgres', url: url('app'), schedule: DAILY, timeout: '2s' },
        // Every second: while the first run hangs on the lock, later ticks must be skipped and counted.
        { name: 'pg-tick', type: 'postgres', url: url('app'), schedule: '* * * * * *' },
      ],
    });
    try {
      b.runner.runNow('pg-lock');
      b.runner.runNow('pg-timeout');
      await waitFor('two skipped ticks', () => b.runner.job('pg-tick').skippedRuns >= 2, 10_000);
      await waitFor('lock and timeout runs to end', () => b.runner.job('pg-lock').running === null && b.runner.job('pg-timeout').running === null, 15_000);

      const locked = b.runner.job('pg-lock');
      assert.equal(locked.state, 'failed');
      assert.match(locked.lastRun!.message!, /gave up after lockTimeout \(1 s\) waiting for a table lock/);
      const timedOut = b.runner.job('pg-timeout');
      assert.equal(timedOut.lastRun?.reason, 'timeout');
      assert.match(timedOut.lastRun!.message!, /timed out after 2 s/);
      assert.match(await b.metricsText(), /caretaker_backup_runs_total\{backup="pg-tick",result="skipped"\} [2-9]/);
      assert.equal(b.runner.job('pg-tick').state, 'running');
    } finally {
      // stop() with a run in progress: it is cancelled and its partial file removed.
      await b.dispose();
      await lock.release();
    }
    for (const job of ['pg-lock', 'pg-timeout', 'pg-tick']) assert.deepEqual(await filesOf(job), [], job);
  });

  it('kill -9 of the agent mid-dump leaves only a .partial, which the next start removes', async () => {
    const config = { dir: dir.path, jobs: [{ name: 'pg-kill', type: 'postgres', url: url('app'), schedule: DAILY }] };
    const first = await startBackups(config);
    first.runner.runNow('pg-kill');
    await first.settled();
    await first.dispose();
    const previous = await filesOf('pg-kill');

    const lock = await lockTable();
    const state = await makeTempDir('backups-kill-state');
    const child = spawn(process.execPath, ['--import', 'tsx', new URL('./kill-target.ts', import.meta.url).pathname, JSON.stringify(config), 'pg-kill'], {
      stdio: 'ignore',
      env: { ...process.env, KILL_TARGET_STATE_DIR: state.path },
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await waitFor('pg_dump blocked on the lock', pgDumpWaiting);
      child.kill('SIGKILL');
      await exited;
    } finally {
      await lock.release();
      await state.cleanup();
    }
    // pg_dump dies on the broken pipe once the lock is gone.
    await waitFor('pg_dump gone', async () => (await server.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump'")).trim() === '0');
    const after = await filesOf('pg-kill');
    assert.equal(after.length, previous.length + 1);
    assert.ok(after.filter((f) => !previous.includes(f)).every((f) => f.endsWith('.partial')));

    const restarted = await startBackups(config);
    try {
      await restarted.settled();
      assert.deepEqual(await filesOf('pg-kill'), previous);
      assert.equal(restarted.runner.job('pg-kill').files, 1);
    } finally {
      await restarted.dispose();
    }
  });

  it('a full disk mid-run removes the partial and keeps the previous backup', async () => {
    const mount = await makeTempDir('backups-tmpfs');
    await runCommand('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount.path]);
    try {
      await server.psql('CREATE DATABASE big');
      await server.psql('CREATE TABLE small (id int)', 'big');
      const b = await startBackups({ dir: mount.path, jobs: [{ name: 'pg-full', type: 'postgres', url: url('big'), schedule: DAILY }] });
      try {
        b.runner.runNow('pg-full');
        await b.settled();
        const previous = await filesOf('pg-full', mount.path);
        assert.equal(previous.length, 2, JSON.stringify(b.runner.job('pg-full').lastRun));

        // About 8 MB of hex that compresses to well over the 2 MiB filesystem.
        await server.psql("CREATE TABLE noise AS SELECT g, md5(random()::text) || md5(random()::text) AS a FROM generate_series(1, 120000) g", 'big');
        b.runner.runNow('pg-full');
        await b.settled();
        const job = b.runner.job('pg-full');
        assert.equal(job.lastRun?.reason, 'disk_full', JSON.stringify(job.lastRun));
        assert.deepEqual(await filesOf('pg-full', mount.path), previous);
        assert.equal((await b.cli(['verify', 'pg-full', 'latest'])).code, 0);
      } finally {
        await b.dispose();
      }
    } finally {
      await runCommand('umount', [mount.path]);
      await mount.cleanup();
    }
  });

  it('refuses to run below the free-space floor', async () => {
    const b = await startBackups({ dir: dir.path, minFreeSpace: '1000TiB', jobs: [{ name: 'r-floor', type: 'redis', url: redis.url, schedule: DAILY }] });
    try {
      b.runner.runNow('r-floor');
      await b.settled();
      const job = b.runner.job('r-floor');
      assert.equal(job.state, 'low_disk');
      assert.match(job.lastRun!.message!, /below minFreeSpace/);
      assert.deepEqual(await filesOf('r-floor'), []);
    } finally {
      await b.dispose();
    }
  });

  it('catches up a run missed while the agent was down, once', async () => {
    const config = { dir: dir.path, jobs: [{ name: 'r-catch', type: 'redis', url: redis.url, schedule: DAILY, timezone: 'UTC' }] };
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    const past = await startBackups(config, () => twoDaysAgo);
    past.runner.runNow('r-catch');
    await past.settled();
    await past.dispose();
    assert.equal((await filesOf('r-catch')).length, 2);

    const now = await startBackups(config);
    try {
      await now.settled();
      const job = now.runner.job('r-catch');
      assert.equal(job.lastRun?.trigger, 'catch-up');
      assert.equal(job.state, 'ok');
      assert.equal(job.files, 2);
    } finally {
      await now.dispose();
    }
    const again = await startBackups(config);
    try {
      await again.settled();
      assert.equal(again.runner.job('r-catch').lastRun, null, 'a caught-up schedule does not run again at the next start');
    } finally {
      await again.dispose();
    }
  });

  it('reload keeps unchanged jobs, drops removed ones with their metrics, adds new ones', async () => {
    const keep = { name: 'r-keep', type: 'redis', url: redis.url, schedule: DAILY };
    const b = await startBackups({ dir: dir.path, jobs: [keep, { name: 'r-gone', type: 'redis', url: redis.url, schedule: DAILY }] });
    try {
      b.runner.runNow('r-keep');
      await b.settled();
      const { configSchema } = await import('../../../src/modules/backups/config.js');
      await b.runner.reload(configSchema.parse({ dir: dir.path, jobs: [keep, { name: 'r-new', type: 'redis', url: redis.url, schedule: DAILY }] }));
      await b.settled();
      assert.deepEqual(b.runner.status().jobs.map((j) => j.name), ['r-keep', 'r-new']);
      assert.equal(b.runner.job('r-keep').state, 'ok', 'unchanged job keeps its state');
      const metrics = await b.metricsText();
      assert.doesNotMatch(metrics, /backup="r-gone"/);
      assert.match(metrics, /caretaker_backup_runs_total\{backup="r-new",result="skipped"\} 0/);
    } finally {
      await b.dispose();
    }
  });
});
