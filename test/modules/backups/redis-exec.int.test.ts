import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { configSchema } from '../../../src/modules/backups/config.js';
import { readManifest } from '../../../src/modules/backups/manifest.js';
import { startRedisInNetns, type NetnsRedis } from '../../harness/redis-netns.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { startBackups, type Harnessed } from './support.js';

const DAILY = '0 3 * * *';
const PASSWORD = 'exec-secret';
const KEYS = 5_000;

function issues(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

/** Every key of databases 0 and 3 with its type, value (its DUMP payload) and whether it has a TTL, as one comparable string per database. */
async function contents(redis: NetnsRedis): Promise<string[]> {
  const out: string[] = [];
  for (const db of ['0', '3']) {
    const keys = (await redis.cli(['-n', db, '--scan'])).split('\n').filter(Boolean).sort();
    const lines: string[] = [];
    // One redis-cli per database, its commands on stdin (a call per key would be thousands of processes); --no-raw
    // quotes the binary DUMP payload on one line.
    const script = keys.map((k) => `TYPE ${k}\nDUMP ${k}\nPTTL ${k}\n`).join('');
    const replies = (await redis.cli(['-n', db, '--no-raw'], script)).split('\n');
    for (const [i, key] of keys.entries()) {
      const ttl = Number(/-?\d+/.exec(replies[i * 3 + 2] ?? '')?.[0]);
      const type = replies[i * 3];
      // A set's DUMP lists its members in hash-table order, which differs between two servers holding the same set.
      const value = type === 'set' ? (await redis.cli(['-n', db, '--csv', 'SORT', key, 'ALPHA'])).trim() : replies[i * 3 + 1];
      lines.push(`${key} ${type} ${value} ${ttl > 0 ? 'ttl' : ttl}`);
    }
    out.push(`${keys.length}:${lines.join('|')}`);
  }
  return out;
}

describe('redis jobs through exec: (a server in a network namespace of its own)', () => {
  let redis: NetnsRedis;
  let dir: TempDir;
  let backups: Harnessed;
  let url: string;

  before(async () => {
    [redis, dir] = await Promise.all([startRedisInNetns(PASSWORD), makeTempDir('backups-redisexec')]);
    url = `redis://:${PASSWORD}@127.0.0.1:${redis.port}`;
    const sets = Array.from({ length: KEYS }, (_, i) => `SET key:${i} value-${i}-${'x'.repeat(i % 100)}\n`).join('');
    await redis.cli([], sets);
    await redis.cli([], 'HSET h a 1 b 2\nRPUSH l x y z\nSADD s m n\nZADD z 1 one 2 two\nSET expiring soon PX 600000\nXADD st 1-1 f v\n');
    await redis.cli(['-n', '3'], 'SET in-db-3 three\n');
    backups = await startBackups({
      dir: dir.path,
      jobs: [
        { name: 'inside', type: 'redis', url, schedule: DAILY, exec: redis.enter },
        { name: 'wrongpass', type: 'redis', url: url.replace(PASSWORD, 'wrong'), schedule: DAILY, exec: redis.enter },
        { name: 'outside', type: 'redis', url, schedule: DAILY, mode: 'replication' },
      ],
    });
  });

  after(async () => {
    await backups?.dispose();
    await redis?.stop();
    await dir?.cleanup();
  });

  it('without exec nothing reaches the server from here', async () => {
    backups.runner.runNow('outside');
    await backups.settled();
    assert.match(backups.runner.job('outside').lastRun?.message ?? '', /ECONNREFUSED/);
  });

  it('redis-cli --rdb through the prefix is the snapshot; redis-cli --pipe through it restores every key, TTLs and databases kept', async () => {
    const before = await contents(redis);
    assert.match(before[0]!, new RegExp(`^${KEYS + 6}:`));
    backups.runner.runNow('inside');
    await backups.settled();
    const job = backups.runner.job('inside');
    assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
    assert.match(job.latest!, /\.rdb$/);
    const manifest = await readManifest(join(dir.path, 'inside', job.latest!));
    assert.equal(manifest?.tools.method, 'redis-cli --rdb through nsenter');
    assert.match(manifest?.tools.server ?? '', /^\d+\.\d+/);
    assert.equal(manifest?.mode, 'replication');
    assert.match(manifest?.verify.method ?? '', /redis-check-rdb/);

    await redis.cli([], 'FLUSHALL\n');
    const restored = await backups.cli(['restore', 'inside', 'latest'], { yes: true });
    assert.equal(restored.code, 0, restored.err + restored.out);
    assert.deepEqual(await contents(redis), before);
  });

  it('a refused command fails the restore with redis-cli\'s exit status and words', async () => {
    // The backup's database 3 cannot go into one named database: refused before anything is written.
    const intoOne = await backups.cli(['restore', 'inside', 'latest'], { yes: true, to: `${url}/5` });
    assert.equal(intoOne.code, 1);
    assert.match(intoOne.err, /the backup holds databases 0, 3/);
    await redis.cli([], 'CONFIG SET maxmemory 1mb\nCONFIG SET maxmemory-policy noeviction\n');
    try {
      const full = await backups.cli(['restore', 'inside', 'latest'], { yes: true });
      assert.equal(full.code, 1);
      assert.match(full.err, /redis-cli --pipe through nsenter exited with 1: .*OOM/);
    } finally {
      await redis.cli([], 'CONFIG SET maxmemory 0\n');
    }
  });

  it('a wrong password is the server\'s answer, and nothing is written', async () => {
    backups.runner.runNow('wrongpass');
    await backups.settled();
    const job = backups.runner.job('wrongpass');
    assert.equal(job.state, 'failed');
    assert.match(job.lastRun?.message ?? '', /^redis-cli through nsenter: (NOAUTH|WRONGPASS|AUTH failed)/);
    assert.doesNotMatch(job.lastRun?.message ?? '', /wrong/);
    assert.deepEqual(await readdir(join(dir.path, 'wrongpass')).catch(() => []), []);
  });
});

describe('redis exec: at load', () => {
  const job = { name: 'r', type: 'redis', url: 'redis://127.0.0.1', schedule: DAILY, exec: ['nsenter', '-t', '1', '-n', '--'] };

  it('modes, TLS and drills that need a connection from this host are refused at their key', () => {
    assert.deepEqual(issues({ jobs: [{ ...job, mode: 'logical' }] }), ['jobs.0.mode: mode logical needs a connection from this host: with exec the snapshot is redis-cli --rdb (mode replication)']);
    assert.deepEqual(issues({ jobs: [{ ...job, url: 'rediss://127.0.0.1', tls: { verify: false } }] }), [
      'jobs.0.tls: redis-cli run through exec takes TLS from the url (rediss://) and its own defaults: leave the tls block out',
    ]);
    assert.deepEqual(issues({ jobs: [{ ...job, exec: [] }] }), ['jobs.0.exec: names no program: give e.g. [docker, exec, -i, pg], or leave exec out']);
    assert.deepEqual(issues({ jobs: [{ ...job, drill: { schedule: DAILY } }] }), ['jobs.0.drill: a drill samples keys over a connection from this host, which exec is there to avoid: not supported with exec yet']);
  });
});
