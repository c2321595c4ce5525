import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { fillDatabase, snapshotDatabase, wipeDatabase } from './pg-data.js';
import { fillRedis, snapshotRedis } from './redis-data.js';
import { startBackups, type Harnessed } from './support.js';

const DAILY = '0 3 * * *';

describe('backups against real servers', () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let redisTls: RedisServer;
  let redisLocked: RedisServer;
  let dir: TempDir;
  let backups: Harnessed;

  before(async () => {
    [pg, redis, redisTls, redisLocked, dir] = await Promise.all([
      startPostgres(),
      startRedis({ password: 's3cret pass' }),
      startRedis({ password: 'tls-pass', tls: true }),
      startRedis({ renameCommands: { SYNC: '', PSYNC: '', BGSAVE: '' } }),
      makeTempDir('backups-int'),
    ]);
    await fillDatabase(pg, 'app');
    const appUrl = pg.url.replace(/\/postgres$/, '/app');
    backups = await startBackups({
      dir: dir.path,
      jobs: [
        { name: 'pg', type: 'postgres', url: appUrl, schedule: DAILY, retention: { keepLast: 2 } },
        { name: 'redis', type: 'redis', url: redis.url, schedule: DAILY },
        { name: 'redis-file', type: 'redis', mode: 'file', url: redis.url, schedule: DAILY },
        { name: 'redis-tls', type: 'redis', url: `rediss://:tls-pass@127.0.0.1:${redisTls.tlsPort}`, tls: { ca: redisTls.ca }, schedule: DAILY },
        { name: 'locked', type: 'redis', url: redisLocked.url, mode: 'replication', schedule: DAILY },
        { name: 'locked-file', type: 'redis', mode: 'file', url: redisLocked.url, schedule: DAILY },
      ],
    });
  });

  after(async () => {
    await backups?.dispose();
    await Promise.all([pg?.stop(), redis?.stop(), redisTls?.stop(), redisLocked?.stop()]);
    await dir?.cleanup();
  });

  it('postgres: backs up, and the CLI restores a wiped database exactly', async () => {
    const before = await snapshotDatabase(pg, 'app');
    assert.match(before.customers!, /^120000:/);
    backups.runner.runNow('pg');
    await backups.settled();
    const job = backups.runner.job('pg');
    assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
    assert.equal(job.backups.length, 1);
    assert.ok(job.backups[0]!.verified);

    const manifest = JSON.parse(await readFile(join(dir.path, 'pg', `${job.latest}.json`), 'utf8'));
    assert.equal(manifest.sizeBytes, job.backups[0]!.sizeBytes);
    assert.match(manifest.sha256, /^[0-9a-f]{64}$/);
    assert.match(manifest.tools.pg_dump, /^\d+\.\d+/);
    assert.equal(manifest.verify.method, 'sha256 + pg_restore --list');

    await wipeDatabase(pg, 'app');
    assert.notDeepEqual(await snapshotDatabase(pg, 'app').catch(() => ({})), before);
    const restored = await backups.cli(['restore', 'pg', 'latest'], { yes: true });
    assert.equal(restored.code, 0, restored.err);
    assert.deepEqual(await snapshotDatabase(pg, 'app'), before);
  });

  it('postgres: retention keeps the newest two after further runs', async () => {
    for (let i = 0; i < 2; i++) {
      backups.runner.runNow('pg');
      await backups.settled();
    }
    const files = (await readdir(join(dir.path, 'pg'))).sort();
    assert.equal(files.filter((f) => f.endsWith('.dump')).length, 2);
    assert.equal(files.filter((f) => f.endsWith('.dump.json')).length, 2);
    assert.equal(files.filter((f) => f.endsWith('.partial')).length, 0);
    const metrics = await backups.metricsText();
    assert.match(metrics, /caretaker_backup_runs_total\{backup="pg",result="success"\} 3/);
    assert.match(metrics, /caretaker_backup_files\{backup="pg"\} 2/);
  });

  it('redis replication with requirepass: every type, TTLs and databases survive backup, flush and CLI restore', async () => {
    const client = new Redis(redis.url);
    try {
      await fillRedis(client);
      const before = await snapshotRedis(client);
      assert.ok(Object.keys(before).length > 500);
      backups.runner.runNow('redis');
      await backups.settled();
      const job = backups.runner.job('redis');
      assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));

      await client.flushall();
      assert.equal(await client.dbsize(), 0);
      const declined = await backups.cli(['restore', 'redis', 'latest']);
      assert.equal(declined.code, 1);
      assert.equal(await client.dbsize(), 0, 'an unconfirmed restore changes nothing');
      const restored = await backups.cli(['restore', 'redis', job.latest!], { yes: true });
      assert.equal(restored.code, 0, restored.err);
      assert.deepEqual(await snapshotRedis(client), before);
    } finally {
      client.disconnect();
    }
  });

  it('redis file mode: BGSAVE, LASTSAVE and a copy of the RDB', async () => {
    backups.runner.runNow('redis-file');
    await backups.settled();
    const job = backups.runner.job('redis-file');
    assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
    const verify = await backups.cli(['verify', 'redis-file', job.latest!]);
    assert.equal(verify.code, 0, verify.err);
    assert.match(verify.out, /OK \(sha256 \+ redis-check-rdb/);
  });

  it('redis replication over TLS with AUTH, restored over TLS', async () => {
    const client = new Redis({ host: '127.0.0.1', port: redisTls.tlsPort, password: 'tls-pass', tls: { ca: await readFile(redisTls.ca!) } });
    try {
      await client.hset('tls:hash', { a: '1', b: '2' });
      await client.set('tls:ttl', 'x', 'PX', 5_000_000);
      const before = await snapshotRedis(client);
      backups.runner.runNow('redis-tls');
      await backups.settled();
      const job = backups.runner.job('redis-tls');
      assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
      await client.flushall();
      const restored = await backups.cli(['restore', 'redis-tls', 'latest'], { yes: true });
      assert.equal(restored.code, 0, restored.err);
      assert.deepEqual(await snapshotRedis(client), before);
    } finally {
      client.disconnect();
    }
  });

  it('a server with SYNC, PSYNC and BGSAVE renamed away is "unsupported" in modes replication and file (auto would go logical)', async () => {
    backups.runner.runNow('locked');
    backups.runner.runNow('locked-file');
    await backups.settled();
    for (const name of ['locked', 'locked-file']) {
      const job = backups.runner.job(name);
      assert.equal(job.state, 'unsupported', JSON.stringify(job.lastRun));
      assert.equal(job.files, 0);
      assert.deepEqual(await readdir(join(dir.path, name)), []);
    }
    assert.match(backups.runner.job('locked').lastRun!.message!, /refuses replication/);
    assert.match(backups.runner.job('locked-file').lastRun!.message!, /refuses BGSAVE/);
    const health = backups.runner.health();
    assert.equal(health.status, 'degraded');
    assert.match(await backups.metricsText(), /caretaker_backup_runs_total\{backup="locked",result="failure"\} 1/);
  });

  it('admin routes: list, detail, unknown job 404', async () => {
    const list = await backups.app.inject({ method: 'GET', url: '/backups' });
    assert.equal(list.statusCode, 200);
    assert.deepEqual((list.json() as { jobs: Array<{ name: string }> }).jobs.map((j) => j.name), ['pg', 'redis', 'redis-file', 'redis-tls', 'locked', 'locked-file']);
    const detail = await backups.app.inject({ method: 'GET', url: '/backups/pg' });
    assert.equal((detail.json() as { backups: unknown[] }).backups.length, 2);
    for (const [method, url] of [['GET', '/backups/nope'], ['POST', '/backups/nope/run']] as const) {
      const response = await backups.app.inject({ method, url });
      assert.equal(response.statusCode, 404);
      assert.deepEqual(response.json(), { error: 'not_found', message: "no backup job named 'nope'" });
    }
    const cliList = await backups.cli(['list', 'pg']);
    assert.equal(cliList.code, 0);
    assert.equal(cliList.out.split('\n').length, 3);
    const overview = await backups.cli([]);
    assert.equal(overview.code, 1, 'unsupported jobs make the overview exit non-zero');
    assert.match(overview.out, /locked\s+redis\s+unsupported/);
  });
});
