import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { EXIT } from '../../../src/agent/kit/cli.js';
import { readManifest } from '../../../src/modules/backups/manifest.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { assertSameKeyspace, fillMany, keyspace, type KeyState } from './redis-logical-data.js';
import { startBackups, type Harnessed } from './support.js';

const DAILY = '0 3 * * *';
/** What managed services (Upstash, ElastiCache) look like from outside: no replication, no BGSAVE, no CONFIG. */
const MANAGED = { SYNC: '', PSYNC: '', BGSAVE: '', CONFIG: '' };

describe('redis mode logical: a managed-looking server (TLS, password, no SYNC/PSYNC/BGSAVE/CONFIG) backed up key by key', () => {
  let managed: RedisServer;
  let plain: RedisServer;
  let fresh: RedisServer;
  let dir: TempDir;
  let backups: Harnessed;
  let original: Map<string, KeyState>;

  const client = (server: RedisServer, password?: string) => new Redis({ port: server.port, ...(password ? { password } : {}) });

  before(async () => {
    [managed, plain, fresh, dir] = await Promise.all([
      startRedis({ password: 'managed-pw', tls: true, renameCommands: MANAGED }),
      startRedis({ password: 'plain-pw' }),
      startRedis({ password: 'fresh-pw' }),
      makeTempDir('redis-logical'),
    ]);
    const source = client(managed, 'managed-pw');
    try {
      await fillMany(source, 100_000, 50);
      original = await keyspace(source);
    } finally {
      source.disconnect();
    }
    const small = client(plain, 'plain-pw');
    await small.set('plain:key', 'x').finally(() => small.disconnect());
    backups = await startBackups({
      dir: dir.path,
      jobs: [
        { name: 'managed', type: 'redis', url: managed.tlsUrl, tls: { ca: managed.ca }, schedule: DAILY, timeout: '5m' },
        { name: 'plain', type: 'redis', url: plain.url, schedule: DAILY },
      ],
    });
  });

  after(async () => {
    await backups?.dispose();
    await Promise.all([managed?.stop(), plain?.stop(), fresh?.stop()]);
    await dir?.cleanup();
  });

  async function backUp(job: string): Promise<string> {
    backups.runner.runNow(job);
    await backups.settled();
    const state = backups.runner.job(job);
    assert.equal(state.state, 'ok', JSON.stringify(state.lastRun));
    return join(dir.path, job, state.latest!);
  }

  it('mode auto picks logical there: 100k keys of every type, a 50 MiB hash, TTLs, restored into a fresh server with identical contents', async () => {
    const logicalFile = await backUp('managed');
    assert.match(logicalFile, /\.rlog$/);
    const manifest = await readManifest(logicalFile);
    assert.equal(manifest?.mode, 'logical');
    assert.equal(manifest?.keys, original.size);
    assert.match(manifest!.verify.method, new RegExp(`^sha256 \\+ logical format check \\(${original.size} keys, \\d+ blocks, sha256 each\\)$`));
    assert.equal(manifest?.tools.method, 'SCAN + DUMP');

    const restored = await backups.cli(['restore', 'managed', logicalFile], { to: fresh.url, yes: true });
    assert.equal(restored.code, EXIT.ok, restored.err);
    assert.match(restored.out, new RegExp(`^${original.size} keys restored \\(${original.size} with RESTORE, 0 by type\\)$`, 'm'));
    assert.ok(!restored.out.includes('fresh-pw'), 'no password in the output');
    const target = client(fresh, 'fresh-pw');
    try {
      assertSameKeyspace(await keyspace(target), original);
    } finally {
      target.disconnect();
    }
  });

  it('mode auto picks replication against a plain server', async () => {
    const file = await backUp('plain');
    assert.match(file, /\.rdb$/);
    const manifest = await readManifest(file);
    assert.equal(manifest?.mode, 'replication');
    assert.equal(manifest?.keys, undefined);
    assert.match(manifest!.tools.method!, /^(P)?SYNC/);
  });
});
