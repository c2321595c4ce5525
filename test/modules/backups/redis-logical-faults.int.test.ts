import assert from 'node:assert/strict';
import { copyFile, open, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { EXIT } from '../../../src/agent/kit/cli.js';
import { freePort } from '../../harness/ports.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { assertSameKeyspace, fillMany, keyspace, type KeyState } from './redis-logical-data.js';
import { startBackups, waitFor, type Harnessed } from './support.js';

const DAILY = '0 3 * * *';
const MANAGED = { SYNC: '', PSYNC: '', BGSAVE: '', CONFIG: '' };

describe('redis logical backups: the type-based path, a corrupted file, a server that fails', () => {
  let source: RedisServer;
  let noRestore: RedisServer;
  let fresh: RedisServer;
  let dying: RedisServer;
  let clusterNode: RedisServer;
  let dir: TempDir;
  let backups: Harnessed;
  let original: Map<string, KeyState>;
  let closedPort: number;
  let file: string;

  const client = (server: RedisServer, password?: string) => new Redis({ port: server.port, ...(password ? { password } : {}) });

  before(async () => {
    [source, noRestore, fresh, dying, clusterNode, dir, closedPort] = await Promise.all([
      startRedis({ password: 'src-pw', renameCommands: MANAGED }),
      startRedis({ renameCommands: { RESTORE: '' } }),
      startRedis(),
      startRedis({ renameCommands: MANAGED }),
      startRedis({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'] }),
      makeTempDir('redis-logical-faults'),
      freePort(),
    ]);
    const src = client(source, 'src-pw');
    try {
      await fillMany(src, 5_000, 12);
      original = await keyspace(src);
    } finally {
      src.disconnect();
    }
    const big = client(dying);
    await fillMany(big, 150_000).finally(() => big.disconnect());
    backups = await startBackups({
      dir: dir.path,
      jobs: [
        { name: 'src', type: 'redis', url: source.url, mode: 'logical', schedule: DAILY },
        { name: 'capped', type: 'redis', url: source.url, mode: 'logical', maxRequestSize: '4MiB', schedule: DAILY },
        { name: 'wrong-password', type: 'redis', url: `redis://:not-it@127.0.0.1:${source.port}`, mode: 'logical', schedule: DAILY },
        { name: 'closed', type: 'redis', url: `redis://127.0.0.1:${closedPort}`, schedule: DAILY },
        { name: 'dying', type: 'redis', url: dying.url, schedule: DAILY },
        { name: 'drilled', type: 'redis', url: source.url, mode: 'logical', schedule: DAILY, drill: { schedule: '0 4 * * 0' } },
        { name: 'cluster', type: 'redis', url: clusterNode.url, mode: 'logical', schedule: DAILY },
      ],
    });
    backups.runner.runNow('src');
    await backups.settled();
    file = join(dir.path, 'src', backups.runner.job('src').latest!);
  });

  after(async () => {
    await backups?.dispose();
    await Promise.all([source?.stop(), noRestore?.stop(), fresh?.stop(), dying?.stop(), clusterNode?.stop()]);
    await dir?.cleanup();
  });

  async function contentsOf(server: RedisServer): Promise<Map<string, KeyState>> {
    const c = client(server);
    try {
      return await keyspace(c);
    } finally {
      c.disconnect();
    }
  }

  it('into a server with RESTORE renamed away, every key goes by type (streams with groups and pending entries, a 12 MiB hash), contents identical', async () => {
    const restored = await backups.cli(['restore', 'src', file], { to: noRestore.url, yes: true });
    assert.equal(restored.code, EXIT.ok, restored.err);
    assert.match(restored.out, new RegExp(`^${original.size} keys restored \\(0 with RESTORE, ${original.size} by type\\)$`, 'm'));
    assertSameKeyspace(await contentsOf(noRestore), original);
  });

  it('maxRequestSize: a payload over it goes by type (in smaller requests), the rest with RESTORE', async () => {
    const restored = await backups.cli(['restore', 'capped', file], { to: fresh.url, yes: true });
    assert.equal(restored.code, EXIT.ok, restored.err);
    assert.match(restored.out, new RegExp(`^${original.size} keys restored \\(${original.size - 1} with RESTORE, 1 by type\\)$`, 'm'));
    assertSameKeyspace(await contentsOf(fresh), original);
  });

  it('a changed byte fails verify naming the block and its first key; a file cut short says so; restore refuses both', async () => {
    const changed = join(dir.path, 'changed.rlog');
    await copyFile(file, changed);
    const handle = await open(changed, 'r+');
    try {
      await handle.write(Buffer.from([0x5a]), 0, 1, 40);
    } finally {
      await handle.close();
    }
    const verify = await backups.cli(['verify', 'src', changed]);
    assert.equal(verify.code, EXIT.failure);
    assert.match(verify.out, /changed\.rlog: FAILED: block 1 \(records 1-\d+, from key ".+" at byte 16\): sha256 mismatch, its bytes changed since it was written$/);
    const restore = await backups.cli(['restore', 'src', changed], { to: fresh.url, yes: true });
    assert.equal(restore.code, EXIT.failure);
    assert.match(restore.err, /refusing to restore .*changed\.rlog: block 1/);

    const cut = join(dir.path, 'cut.rlog');
    await copyFile(file, cut);
    await truncate(cut, (await stat(cut)).size - 100);
    const short = await backups.cli(['verify', 'src', cut]);
    assert.equal(short.code, EXIT.failure);
    assert.match(short.out, /cut\.rlog: FAILED: .*(cut short|ends inside)/);
  });

  it('a wrong password and a closed port fail the run naming the cause', async () => {
    for (const [job, expected] of [
      ['wrong-password', /^WRONGPASS invalid username-password pair/],
      ['closed', new RegExp(`^connect ECONNREFUSED 127\\.0\\.0\\.1:${closedPort} \\(nothing listens on`)],
    ] as const) {
      backups.runner.runNow(job);
      await backups.settled();
      const run = backups.runner.job(job).lastRun!;
      assert.equal(run.result, 'failure');
      assert.match(run.message!, expected);
      assert.ok(!run.message!.includes('not-it'));
    }
  });

  it('a restore drill of a logical backup loads it into a throw-away redis-server and passes', async () => {
    backups.runner.runNow('drilled');
    await backups.settled();
    assert.equal(backups.runner.job('drilled').state, 'ok', JSON.stringify(backups.runner.job('drilled').lastRun));
    const drill = await backups.cli(['drill', 'drilled']);
    assert.equal(drill.code, EXIT.ok, drill.err);
    assert.match(drill.out, /^restore drill of 'drilled' passed: drilled-.*\.rlog \(sha256 \+ logical format check \(\d+ keys, \d+ blocks, sha256 each\); .* sampled key types match/);
  });

  it('a Redis Cluster node that serves no slots (a cluster not set up) fails the run saying so', async () => {
    backups.runner.runNow('cluster');
    await backups.settled();
    const state = backups.runner.job('cluster');
    assert.equal(state.lastRun?.result, 'failure');
    assert.match(state.lastRun!.message!, /^this Redis Cluster node knows no primary that serves slots \(CLUSTER NODES\)$/);
  });

  it('a server killed in the middle of the scan fails the run with its cause and leaves no file', async () => {
    const jobDir = join(dir.path, 'dying');
    backups.runner.runNow('dying');
    await waitFor('the logical dump to write 1 MiB', async () => {
      const names = await readdir(jobDir).catch(() => [] as string[]);
      const partial = names.find((n) => n.endsWith('.partial'));
      return partial !== undefined && (await stat(join(jobDir, partial)).catch(() => ({ size: 0 }))).size >= 1024 * 1024;
    }, 60_000);
    process.kill(dying.pid, 'SIGKILL');
    await backups.settled();
    const run = backups.runner.job('dying').lastRun!;
    assert.equal(run.result, 'failure');
    assert.match(run.message!, /closed the connection|ECONNRESET|ECONNREFUSED/);
    assert.deepEqual(await readdir(jobDir), []);
  });
});
