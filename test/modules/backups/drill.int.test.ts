import assert from 'node:assert/strict';
import { execFile as execFileCb } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { configSchema } from '../../../src/modules/backups/config.js';
import { splitPassword } from '../../../src/modules/backups/postgres/tools.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { fillDatabase, snapshotDatabase } from './pg-data.js';
import { fillRedis } from './redis-data.js';
import { startBackups, type Harnessed } from './support.js';

const execFile = promisify(execFileCb);
const DAILY = '0 3 * * *';
const WEEKLY = '0 4 * * 0';

describe('restore drills against real servers', () => {
  let pgServer: PostgresServer;
  let redis: RedisServer;
  let emptyRedis: RedisServer;
  let dir: TempDir;
  let backups: Harnessed;
  let appUrl: string;
  let jobs: unknown[];

  const dbUrl = (db: string) => pgServer.url.replace(/\/postgres$/, `/${db}`);
  const metric = async (line: string) => (await backups.metricsText()).split('\n').find((l) => l.startsWith(line));
  const drillCondition = (job: string) => backups.test.conditions.firing().find((c) => c.key === `backup:${job}:drill`);
  const scratchExists = async () => (await pgServer.psql("SELECT count(*) FROM pg_database WHERE datname = 'caretaker_drill'")).trim() === '1';

  /** A fresh verified backup of `job`; its path. */
  async function backUp(job: string): Promise<string> {
    backups.runner.runNow(job);
    await backups.settled();
    const detail = backups.runner.job(job);
    assert.equal(detail.state, 'ok', JSON.stringify(detail.lastRun));
    return join(dir.path, job, detail.latest!);
  }

  /** What someone who tampers with a backup would do: a new sha256 and size in its manifest, so verification passes. */
  async function reforgeManifest(path: string): Promise<void> {
    const manifest = JSON.parse(await readFile(`${path}.json`, 'utf8')) as { sha256: string; sizeBytes: number };
    manifest.sha256 = createHash('sha256').update(await readFile(path)).digest('hex');
    manifest.sizeBytes = (await stat(path)).size;
    await writeFile(`${path}.json`, JSON.stringify(manifest));
  }

  before(async () => {
    [pgServer, redis, emptyRedis, dir] = await Promise.all([startPostgres(), startRedis(), startRedis(), makeTempDir('backups-drill')]);
    await fillDatabase(pgServer, 'app', 5_000);
    const client = new Redis(redis.url);
    await fillRedis(client);
    client.disconnect();
    appUrl = dbUrl('app');
    jobs = [
      { name: 'pg', type: 'postgres', url: appUrl, schedule: DAILY, drill: { schedule: WEEKLY, to: dbUrl('caretaker_drill') } },
      { name: 'pg-dir', type: 'postgres', url: appUrl, schedule: DAILY, jobs: 2, drill: { schedule: WEEKLY, to: dbUrl('caretaker_drill') } },
      { name: 'redis', type: 'redis', url: redis.url, schedule: DAILY, drill: { schedule: WEEKLY } },
      { name: 'redis-empty', type: 'redis', url: emptyRedis.url, schedule: DAILY },
      { name: 'nodrill', type: 'postgres', url: appUrl, schedule: DAILY },
      {
        name: 'pg-remote',
        type: 'postgres',
        url: appUrl,
        schedule: DAILY,
        remote: { repository: join(dir.path, 'restic-repo'), password: 'drill test password', init: true },
        drill: { schedule: WEEKLY, to: dbUrl('caretaker_drill'), from: 'remote' },
      },
    ];
    backups = await startBackups({ dir: dir.path, jobs });
  });

  after(async () => {
    await backups?.dispose();
    await Promise.all([pgServer?.stop(), redis?.stop(), emptyRedis?.stop()]);
    await dir?.cleanup();
  });

  it('postgres: records exact row counts at dump time, passes the drill on a good backup and drops the scratch database', async () => {
    const path = await backUp('pg');
    const manifest = JSON.parse(await readFile(`${path}.json`, 'utf8'));
    assert.deepEqual(manifest.contents.tables, [
      { schema: 'public', name: 'customers', rows: 5000 },
      { schema: 'public', name: 'orders', rows: 50000 },
    ]);

    const result = await backups.cli(['drill', 'pg']);
    assert.equal(result.code, 0, result.out + result.err);
    assert.match(result.out, /restore drill of 'pg' passed: pg-.*\.dump \(sha256 \+ pg_restore --list; pg_restore into caretaker_drill; 2 tables, 55000 rows as at dump time/);
    assert.equal(await scratchExists(), false);
    assert.equal(await metric('caretaker_backup_drill_runs_total{backup="pg",result="success"}'), 'caretaker_backup_drill_runs_total{backup="pg",result="success"} 1');
    assert.match((await metric('caretaker_backup_drill_last_success_timestamp_seconds{backup="pg"}')) ?? '', / 1\d{9}(\.\d+)?$/);
    assert.equal(drillCondition('pg'), undefined);
    const overview = await backups.cli([]);
    assert.match(overview.out, /RESTORE DRILL/);
    assert.match(overview.out.split('\n').find((l) => l.startsWith('pg '))!, /passed just now$/);
    // No drill configured: no drill label sets, and asking for one is the caller's mistake.
    assert.equal(await metric('caretaker_backup_drill_runs_total{backup="nodrill"'), undefined);
    const refused = await backups.cli(['drill', 'nodrill']);
    assert.equal(refused.code, 64);
    assert.match(refused.err, /backup job 'nodrill' has no drill; add drill: \{ schedule, to \}/);
  });

  it('postgres: a drill never touches the production database, its contents or its connections', async () => {
    await backUp('pg');
    const contents = await snapshotDatabase(pgServer, 'app');
    const watcher = new pg.Client({ connectionString: pgServer.url });
    await watcher.connect();
    try {
      const sessions = async () => {
        await new Promise((r) => setTimeout(r, 500));
        await watcher.query('SELECT pg_stat_clear_snapshot()');
        return Number((await watcher.query("SELECT sessions FROM pg_stat_database WHERE datname = 'app'")).rows[0].sessions);
      };
      const sessionsBefore = await sessions();
      const seen = new Set<string>();
      let watching = true;
      const watching$ = (async () => {
        for (let i = 0; watching && i < 3000; i++) {
          const { rows } = await watcher.query<{ datname: string; application_name: string }>('SELECT datname, application_name FROM pg_stat_activity WHERE datname IS NOT NULL AND pid <> pg_backend_pid()');
          for (const row of rows) seen.add(`${row.datname}/${row.application_name}`);
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const result = await backups.cli(['drill', 'pg']);
      watching = false;
      await watching$;
      assert.equal(result.code, 0, result.out + result.err);
      assert.ok([...seen].some((s) => s.startsWith('caretaker_drill/')), `the watcher saw the drill: ${[...seen].join(', ')}`);
      assert.deepEqual([...seen].filter((s) => s.startsWith('app/')), []);
      assert.equal(await sessions(), sessionsBefore, 'no session was opened to the production database during the drill');
    } finally {
      await watcher.end();
    }
    assert.deepEqual(await snapshotDatabase(pgServer, 'app'), contents);
  });

  it('postgres: a backup whose table lost its rows after the manifest was written fails the drill and says which', async () => {
    const path = await backUp('pg');
    // The same dump with orders emptied, swapped in under the manifest, its checksum forged to match.
    const { url, env } = splitPassword(appUrl);
    await execFile('pg_dump', ['--format=custom', '--exclude-table-data=orders', `--dbname=${url}`, `--file=${path}`], { env });
    await reforgeManifest(path);
    assert.equal((await backups.cli(['verify', 'pg', 'latest'])).code, 0, 'the forged backup passes verification');

    const result = await backups.cli(['drill', 'pg']);
    assert.equal(result.code, 1);
    assert.match(result.out, /restore drill of 'pg' failed: pg-.*\.dump: table public\.orders has 0 rows restored, 50000 at dump time$/);
    assert.equal(await scratchExists(), false, 'the scratch database is dropped after a failure too');
    assert.equal(await metric('caretaker_backup_drill_runs_total{backup="pg",result="failure"}'), 'caretaker_backup_drill_runs_total{backup="pg",result="failure"} 1');
    const condition = drillCondition('pg');
    assert.equal(condition?.severity, 'critical');
    assert.match(condition?.detail ?? '', /backup job pg: pg-.*\.dump: table public\.orders has 0 rows restored, 50000 at dump time/);
    assert.match(backups.runner.job('pg').drill?.last?.message ?? '', /public\.orders has 0 rows/);

    // A table left out of the dump altogether is named as missing.
    await execFile('pg_dump', ['--format=custom', '--exclude-table=orders', '--exclude-table=big_orders', `--dbname=${url}`, `--file=${path}`], { env });
    await reforgeManifest(path);
    const missing = await backups.cli(['drill', 'pg']);
    assert.equal(missing.code, 1);
    assert.match(missing.out, /table public\.orders is missing from the restored copy$/);

    // The next good backup passes again and resolves the condition.
    await backUp('pg');
    assert.equal((await backups.cli(['drill', 'pg'])).code, 0);
    assert.equal(drillCondition('pg'), undefined);
  });

  it('postgres: a corrupted file with a re-forged checksum fails the drill with the restore error', async () => {
    const path = await backUp('pg');
    const size = (await stat(path)).size;
    const handle = await open(path, 'r+');
    // Table data sits behind the table of contents, which pg_restore --list reads.
    await handle.write(Buffer.alloc(256, 0x5a), 0, 256, Math.floor(size * 0.6));
    await handle.close();
    await reforgeManifest(path);

    const result = await backups.cli(['drill', 'pg']);
    assert.equal(result.code, 1);
    assert.match(result.out, /restore drill of 'pg' failed: pg-.*\.dump: the restore failed: pg_restore: error: .+/);
    assert.equal(await scratchExists(), false);
  });

  it('postgres: a directory backup (jobs: 2) is counted in the snapshot of its parallel dump and passes', async () => {
    const path = await backUp('pg-dir');
    const manifest = JSON.parse(await readFile(`${path}.json`, 'utf8'));
    assert.equal(manifest.layout, 'directory');
    assert.deepEqual(manifest.contents.tables.map((t: { rows: number }) => t.rows), [5000, 50000]);
    const result = await backups.cli(['drill', 'pg-dir']);
    assert.equal(result.code, 0, result.out + result.err);

    // The cron task runs the same drill; a second one while it runs is a conflict.
    const scheduled = backups.test.runTask('drill:pg-dir');
    assert.throws(() => backups.runner.drillNow('pg-dir'), /a restore drill of 'pg-dir' is already running/);
    await scheduled;
    await backups.settled();
    assert.equal(backups.runner.job('pg-dir').drill?.last?.result, 'success');
    assert.equal(await metric('caretaker_backup_drill_runs_total{backup="pg-dir",result="success"}'), 'caretaker_backup_drill_runs_total{backup="pg-dir",result="success"} 2');
  });

  it('postgres: rows written during the dump are counted as the dump saw them (one snapshot), so the drill passes', async () => {
    const writer = new pg.Client({ connectionString: appUrl });
    await writer.connect();
    let writing = true;
    let inserted = 0;
    const writes = (async () => {
      const deadline = Date.now() + 30_000;
      while (writing && Date.now() < deadline && inserted < 200_000) {
        await writer.query("INSERT INTO orders (customer_id, amount) SELECT 1, 1 FROM generate_series(1, 200)");
        inserted += 200;
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 100));
      const path = await backUp('pg');
      writing = false;
      await writes;
      const recorded = JSON.parse(await readFile(`${path}.json`, 'utf8')).contents.tables.find((t: { name: string }) => t.name === 'orders').rows;
      const now = Number(await pgServer.psql('SELECT count(*) FROM orders', 'app'));
      assert.ok(recorded > 50_000 && recorded < now, `recorded ${recorded} rows of orders, ${now} now, ${inserted} inserted meanwhile`);
      const result = await backups.cli(['drill', 'pg']);
      assert.equal(result.code, 0, result.out + result.err);
    } finally {
      writing = false;
      await writes;
      await writer.query('DELETE FROM orders WHERE id > 50000');
      await writer.end();
    }
  });

  it('postgres: a drill from the remote restores the newest restic snapshot, with no local backup left', async () => {
    const path = await backUp('pg-remote');
    assert.equal(backups.runner.job('pg-remote').lastRun?.remote?.result, 'success', JSON.stringify(backups.runner.job('pg-remote').lastRun));
    const folder = join(dir.path, 'pg-remote');
    for (const name of await readdir(folder)) await rm(join(folder, name), { recursive: true });
    const result = await backups.cli(['drill', 'pg-remote']);
    assert.equal(result.code, 0, result.out + result.err);
    assert.match(result.out, new RegExp(`restore drill of 'pg-remote' passed: remote:[0-9a-f]{8} ${basename(path).replaceAll('.', '\\.')} \\(sha256 \\+ pg_restore --list; pg_restore into caretaker_drill; 2 tables`));
    assert.deepEqual(await readdir(folder), [], 'the fetched copy is removed after the drill');
    assert.equal(await scratchExists(), false);
  });

  it('redis: loads the RDB into a throw-away redis-server in the state dir and compares key counts and types', async () => {
    const path = await backUp('redis');
    const manifest = JSON.parse(await readFile(`${path}.json`, 'utf8'));
    // 500 strings, a binary key, 20 hashes, a list, a set, a zset and a stream in db0 (the two TTL keys left out); 2 in db3.
    assert.deepEqual(manifest.contents.redis.databases, [
      { db: 0, persistentBefore: 525, persistentAfter: 525 },
      { db: 3, persistentBefore: 2, persistentAfter: 2 },
    ]);
    assert.equal(manifest.contents.redis.sample.length, 18);

    // The scratch server's socket is in the state dir while the drill runs.
    let socketSeen = false;
    let polling = true;
    const poll = (async () => {
      for (let i = 0; polling && i < 2000; i++) {
        for (const name of await readdir(backups.test.ctx.stateDir)) {
          if (name.startsWith('caretaker-redis-restore-') && (await readdir(join(backups.test.ctx.stateDir, name)).catch((): string[] => [])).includes('redis.sock')) socketSeen = true;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const result = await backups.cli(['drill', 'redis']);
    polling = false;
    await poll;
    assert.ok(socketSeen, 'redis.sock seen in the state dir');
    assert.equal(result.code, 0, result.out + result.err);
    assert.match(result.out, /redis-server loaded the RDB; 527 keys without a TTL in 2 databases, 18 sampled key types match/);
    assert.deepEqual((await readdir(backups.test.ctx.stateDir)).filter((n) => n.startsWith('caretaker-redis-restore-')), [], 'the scratch server left nothing behind');
  });

  it('redis: an RDB of another server under a forged manifest fails the drill', async () => {
    const path = await backUp('redis');
    const empty = await backUp('redis-empty');
    await writeFile(path, await readFile(empty));
    await reforgeManifest(path);
    const result = await backups.cli(['drill', 'redis']);
    assert.equal(result.code, 1);
    assert.match(result.out, /db0 has 0 keys without a TTL loaded, 525 at dump time; db3 has 0 keys without a TTL loaded, 2 at dump time; db0 key ".*" is missing, was a \w+/);
    assert.equal(drillCondition('redis')?.severity, 'critical');
  });

  it("redis: without redis-server the drill is skipped and says so (exit 1, a warning condition)", async () => {
    // redis-check-rdb stays reachable (verification needs it); redis-server does not.
    const bin = join(dir.path, 'bin-without-redis-server');
    await mkdir(bin, { recursive: true });
    const { stdout } = await execFile('sh', ['-c', 'command -v redis-check-rdb']);
    await symlink(stdout.trim(), join(bin, 'redis-check-rdb'));
    const saved = process.env.PATH;
    process.env.PATH = bin;
    let result;
    try {
      result = await backups.cli(['drill', 'redis']);
    } finally {
      process.env.PATH = saved;
    }
    assert.equal(result.code, 1);
    assert.match(result.out, /restore drill of 'redis' skipped: skipped: redis-server not installed \(apt-get install redis-server\)/);
    assert.equal(await metric('caretaker_backup_drill_runs_total{backup="redis",result="skipped"}'), 'caretaker_backup_drill_runs_total{backup="redis",result="skipped"} 1');
    assert.equal(drillCondition('redis')?.severity, 'warning');
  });

  it('keeps the last result across a restart (state file) and says how long ago it passed', async () => {
    const statePath = join(backups.test.ctx.stateDir, 'drill-pg-dir.json');
    const state = JSON.parse(await readFile(statePath, 'utf8'));
    assert.equal(state.last.result, 'success');
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000 - 60_000).toISOString();
    state.last.finishedAt = threeDaysAgo;
    state.lastSuccessAt = threeDaysAgo;
    await writeFile(statePath, JSON.stringify(state));
    // Dropping the drill and configuring it again reads the file as a start does.
    const withoutDrill = jobs.map((j) => {
      const { drill, ...rest } = j as { name: string; drill?: unknown };
      return rest.name === 'pg-dir' ? rest : { ...rest, drill };
    });
    await backups.runner.reload(configSchema.parse({ dir: dir.path, jobs: withoutDrill }));
    assert.equal(backups.runner.job('pg-dir').drill, null);
    await backups.runner.reload(backups.config);
    await backups.settled();
    const overview = await backups.cli([]);
    assert.match(overview.out.split('\n').find((l) => l.startsWith('pg-dir '))!, /passed 3 days ago$/);
    assert.equal(backups.runner.job('pg-dir').drill?.lastSuccessAt, threeDaysAgo);
  });
});
