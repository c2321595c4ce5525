import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { Redis } from 'ioredis';
import { EXIT } from '../../../src/agent/kit/cli.js';
import { parseCheckRdbVersion } from '../../../src/modules/backups/kinds/redis.js';
import { createRedisChecker, redisProbeConfig } from '../../../src/modules/probes/kinds/redis.js';
import { freePort } from '../../harness/ports.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { redisCommand } from '../../harness/redis-client.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { startSilentListener, type SilentListener } from '../../harness/tcp-fakes.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { startBackups, type Harnessed } from './support.js';

const DAILY = '0 3 * * *';
/** Every command here must end within this, whatever the target does. */
const BOUND_MS = 15_000;

test("redis-check-rdb --version: 7.0's and 7.2's output", () => {
  assert.equal(parseCheckRdbVersion('redis-check-rdb 7.0.15\n'), '7.0.15');
  assert.equal(parseCheckRdbVersion('redis-check-rdb v=7.2.4 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=5a2c2a2f0a4c1b5e\n'), '7.2.4');
  assert.equal(parseCheckRdbVersion(''), undefined);
});

describe('restore and backup targets: the right database, the real cause, a bounded wait', () => {
  let source: RedisServer;
  let target: RedisServer;
  let pg: PostgresServer;
  let silent: SilentListener;
  let web: http.Server;
  let webPort: number;
  let closedPort: number;
  let dir: TempDir;
  let backups: Harnessed;

  const src = (...args: string[]) => redisCommand({ port: source.port, password: 'src-pw' }, ...args);
  /** One command in database `db` of the target. */
  const dst = async (db: number, command: string, ...args: string[]): Promise<unknown> => {
    const client = new Redis({ port: target.port, password: 'dst-pw', db });
    try {
      return await client.call(command, ...args);
    } finally {
      client.disconnect();
    }
  };

  before(async () => {
    [source, target, pg, silent, dir] = await Promise.all([
      startRedis({ password: 'src-pw' }),
      startRedis({ password: 'dst-pw', tls: true }),
      startPostgres(),
      startSilentListener(),
      makeTempDir('backups-targets'),
    ]);
    web = http.createServer((_req, res) => res.end('hello'));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    webPort = (web.address() as AddressInfo).port;
    closedPort = await freePort();
    await pg.psql('CREATE DATABASE app');
    await pg.psql('CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g', 'app');
    backups = await startBackups({
      dir: dir.path,
      jobs: [
        { name: 'cache', type: 'redis', url: source.url, schedule: DAILY },
        { name: 'pg', type: 'postgres', url: pg.url.replace(/\/postgres$/, '/app'), schedule: DAILY },
        { name: 'closed', type: 'redis', url: `redis://127.0.0.1:${closedPort}`, schedule: DAILY },
        { name: 'wrong-password', type: 'redis', url: `redis://:not-it@127.0.0.1:${target.port}`, schedule: DAILY },
        { name: 'http', type: 'redis', url: `redis://127.0.0.1:${webPort}`, schedule: DAILY },
        { name: 'tls-on-plain', type: 'redis', url: `rediss://:dst-pw@127.0.0.1:${target.port}`, tls: { insecure: true }, schedule: DAILY },
      ],
    });
  });

  after(async () => {
    await backups?.dispose();
    await Promise.all([source?.stop(), target?.stop(), pg?.stop(), silent?.close(), new Promise((resolve) => web?.close(resolve))]);
    await dir?.cleanup();
  });

  async function backUp(job: string): Promise<string> {
    backups.runner.runNow(job);
    await backups.settled();
    const state = backups.runner.job(job);
    assert.equal(state.state, 'ok', JSON.stringify(state.lastRun));
    return state.latest!;
  }

  /** The job's newest backup, made now if it has none yet (so each test also runs alone). */
  async function someBackup(job: string): Promise<string> {
    return backups.runner.job(job).latest ?? backUp(job);
  }

  /** A CLI run that must end within BOUND_MS. */
  async function bounded(args: string[], flags: Record<string, string | true> = {}) {
    const started = Date.now();
    const result = await backups.cli(args, flags);
    const ms = Date.now() - started;
    assert.ok(ms < BOUND_MS, `${args.join(' ')} took ${ms} ms`);
    return { ...result, ms };
  }

  it('restore --to …/5 writes into database 5 and leaves database 0 of the target untouched', async () => {
    await src('SET', 'user:1', 'ada');
    await src('HSET', 'user:2', 'name', 'grace');
    await src('SET', 'ttl:1', 'soon', 'PX', '3600000');
    const file = await backUp('cache');
    // What the target held before: a key the backup also has, and one it does not.
    await dst(0, 'SET', 'user:1', 'target-own-value');
    await dst(0, 'SET', 'only-in-target', 'kept');

    const restored = await bounded(['restore', 'cache', file], { to: `redis://:dst-pw@127.0.0.1:${target.port}/5`, yes: true });
    assert.equal(restored.code, EXIT.ok, restored.err);
    assert.match(restored.out, new RegExp(`into redis://:\\*\\*\\*@127\\.0\\.0\\.1:${target.port}/5$`));

    assert.equal(await dst(5, 'GET', 'user:1'), 'ada');
    assert.equal(await dst(5, 'HGET', 'user:2', 'name'), 'grace');
    assert.ok(Number(await dst(5, 'PTTL', 'ttl:1')) > 3_000_000, 'the TTL came along');
    assert.equal(await dst(5, 'DBSIZE'), 3);
    assert.equal(await dst(0, 'GET', 'user:1'), 'target-own-value', 'db 0 was not overwritten');
    assert.equal(await dst(0, 'DBSIZE'), 2, 'db 0 gained nothing');
  });

  it('a backup of several databases is refused into one, before anything is written', async () => {
    const db2 = new Redis({ port: source.port, password: 'src-pw', db: 2 });
    await db2.set('db2:key', 'x').finally(() => db2.disconnect());
    const file = await backUp('cache');
    await dst(7, 'FLUSHDB');
    const refused = await bounded(['restore', 'cache', file], { to: `redis://:dst-pw@127.0.0.1:${target.port}/7`, yes: true });
    assert.equal(refused.code, EXIT.failure);
    assert.match(refused.err, /the backup holds databases 0, 2, but 127\.0\.0\.1:\d+\/7 names one: give --to without a database/);
    assert.equal(await dst(7, 'DBSIZE'), 0);
    // Without a database in --to each goes back under its own number.
    const each = await bounded(['restore', 'cache', file], { to: `redis://:dst-pw@127.0.0.1:${target.port}`, yes: true });
    assert.equal(each.code, EXIT.ok, each.err);
    assert.equal(await dst(2, 'GET', 'db2:key'), 'x');
  });

  const causes: Array<{ label: string; job: string; url: () => string; tls?: boolean; expect: (port: number) => RegExp }> = [
    { label: 'a closed port', job: 'closed', url: () => `redis://127.0.0.1:${closedPort}`, expect: (p) => new RegExp(`^connect ECONNREFUSED 127\\.0\\.0\\.1:${p} \\(nothing listens on`) },
    { label: 'a wrong password', job: 'wrong-password', url: () => `redis://:not-it@127.0.0.1:${target.port}`, expect: () => /^WRONGPASS invalid username-password pair/ },
    { label: 'a port that is not Redis', job: 'http', url: () => `redis://127.0.0.1:${webPort}`, expect: (p) => new RegExp(`^127\\.0\\.0\\.1:${p} is not a Redis server: it answered "HTTP/1\\.1 400 Bad Request"$`) },
    { label: 'TLS against a plain server', job: 'tls-on-plain', url: () => `rediss://:dst-pw@127.0.0.1:${target.port}`, tls: true, expect: (p) => new RegExp(`^127\\.0\\.0\\.1:${p} answers plain Redis, not TLS: use redis://`) },
  ];
  for (const cause of causes) {
    it(`${cause.label}: backup, restore and probe all say the same cause, never "Connection is closed."`, async () => {
      const file = await someBackup('cache');
      const port = Number(new URL(cause.url()).port);
      const expected = cause.expect(port);

      backups.runner.runNow(cause.job);
      await backups.settled();
      const run = backups.runner.job(cause.job).lastRun!;
      assert.equal(run.result, 'failure');
      assert.match(run.message!, expected);

      const restore = await bounded(['restore', 'cache', file], { to: cause.url(), yes: true });
      assert.equal(restore.code, EXIT.failure);
      assert.equal(restore.err.split('\n').at(-1), `backups: ${run.message}`);
      assert.ok(!/Connection is closed/.test(restore.err), restore.err);
      assert.ok(!restore.err.includes('not-it') && !restore.err.includes('dst-pw'), 'no password in the message');

      const probe = createRedisChecker(redisProbeConfig.parse({ name: 'p', type: 'redis', url: cause.url(), ...(cause.tls ? { tls: { verify: false } } : {}) }), 5_000);
      try {
        const outcome = await probe.check(AbortSignal.timeout(5_000));
        assert.equal(outcome.message, run.message);
      } finally {
        await probe.close();
      }
    });
  }

  it('restore --to a port that accepts and never answers ends within the bound: redis and postgres jobs', async () => {
    const to = (scheme: string) => `${scheme}://u:pw@127.0.0.1:${silent.port}/${scheme === 'redis' ? '0' : 'app'}`;
    const redis = await bounded(['restore', 'cache', await someBackup('cache')], { to: to('redis'), yes: true });
    assert.equal(redis.code, EXIT.failure);
    assert.match(redis.err, /connected to 127\.0\.0\.1:\d+, but no Redis reply within 10000 ms/);

    const postgres = await bounded(['restore', 'pg', await someBackup('pg')], { to: to('postgres'), yes: true });
    assert.equal(postgres.code, EXIT.failure);
    assert.match(postgres.err, /timeout expired/);
    assert.ok(await waitUntil(() => silent.connections() === 0), `${silent.connections()} connections left open`);
  });

  it('restore of a postgres job --to a Redis port (silent on a PostgreSQL hello) ends within the bound', async () => {
    const restore = await bounded(['restore', 'pg', await someBackup('pg')], { to: `postgres://u:pw@127.0.0.1:${source.port}/app`, yes: true });
    assert.equal(restore.code, EXIT.failure);
    assert.match(restore.err, new RegExp(`connection to server at "127\\.0\\.0\\.1", port ${source.port} failed: timeout expired`));
  });

  it('verify and restore refuse /dev/zero and a FIFO at once, as a usage error', async () => {
    const fifo = join(dir.path, 'backup.fifo');
    execFileSync('mkfifo', [fifo]);
    for (const path of ['/dev/zero', fifo]) {
      const verify = await bounded(['verify', 'cache', path]);
      assert.equal(verify.code, EXIT.usage, verify.err);
      assert.ok(verify.ms < 1_000, `took ${verify.ms} ms`);
      assert.equal(verify.err, `${path} is not a regular file (a device, FIFO or socket); give a backup file, its name in the job directory, or 'latest'`);
      const restore = await bounded(['restore', 'cache', path], { yes: true });
      assert.equal(restore.code, EXIT.usage, restore.err);
    }
    // A directory backup (pg_dump -Fd) with a FIFO among its files.
    const tree = join(dir.path, 'tree.dir');
    await mkdir(tree);
    await writeFile(join(tree, 'toc.dat'), 'x');
    execFileSync('mkfifo', [join(tree, '3001.dat.gz')]);
    const verify = await bounded(['verify', 'pg', tree]);
    assert.equal(verify.code, EXIT.usage, verify.err);
    assert.match(verify.err, /3001\.dat\.gz is not a regular file/);
  });

  it('verify of a Redis backup names the redis-check-rdb version', async () => {
    const verify = await bounded(['verify', 'cache', await someBackup('cache')]);
    assert.equal(verify.code, EXIT.ok, verify.err);
    assert.match(verify.out, /OK \(sha256 \+ redis-check-rdb \d+\.\d+(\.\d+)?\)$/);
  });
});

async function waitUntil(condition: () => boolean, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}
