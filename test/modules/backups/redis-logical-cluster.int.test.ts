import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { EXIT } from '../../../src/agent/kit/cli.js';
import { readManifest } from '../../../src/modules/backups/manifest.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { startBackups, waitFor, type Harnessed } from './support.js';

const run = promisify(execFile);
const KEYS = 3000;

describe('redis mode logical against a Redis Cluster: every primary is scanned', () => {
  let nodes: RedisServer[];
  let plain: RedisServer;
  let dir: TempDir;
  let backups: Harnessed;

  before(async () => {
    const clusterArgs = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'];
    [nodes, plain, dir] = await Promise.all([
      Promise.all([0, 1, 2].map(() => startRedis({ password: 'c-pw', extraArgs: [...clusterArgs, '--masterauth', 'c-pw'], renameCommands: { SYNC: '', PSYNC: '' } }))),
      startRedis(),
      makeTempDir('redis-logical-cluster'),
    ]);
    await run('redis-cli', ['-a', 'c-pw', '--no-auth-warning', '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    const probe = new Redis({ port: nodes[0]!.port, password: 'c-pw' });
    await waitFor('the cluster to be ok', async () => /cluster_state:ok/.test(await probe.cluster('INFO')), 30_000).finally(() => probe.disconnect());
    const cluster = new Cluster(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), { redisOptions: { password: 'c-pw' } });
    try {
      for (let i = 0; i < KEYS; i += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => cluster.set(`key:${i + j}`, `value-${i + j}`, 'PX', j % 3 === 0 ? 3_600_000 : 86_400_000)));
    } finally {
      cluster.disconnect();
    }
    backups = await startBackups({
      dir: dir.path,
      jobs: [{ name: 'cluster', type: 'redis', url: `redis://:c-pw@127.0.0.1:${nodes[0]!.port}`, schedule: '0 3 * * *' }],
    });
  });

  after(async () => {
    await backups?.dispose();
    await Promise.all([...(nodes ?? []).map((n) => n.stop()), plain?.stop()]);
    await dir?.cleanup();
  });

  it('mode auto goes logical, reads the keys of all three primaries, and restores them into one server; into a cluster it is refused', async () => {
    backups.runner.runNow('cluster');
    await backups.settled();
    const state = backups.runner.job('cluster');
    assert.equal(state.state, 'ok', JSON.stringify(state.lastRun));
    const file = join(dir.path, 'cluster', state.latest!);
    const manifest = await readManifest(file);
    assert.equal(manifest?.mode, 'logical');
    assert.equal(manifest?.keys, KEYS);

    const restored = await backups.cli(['restore', 'cluster', file], { to: plain.url, yes: true });
    assert.equal(restored.code, EXIT.ok, restored.err);
    const target = new Redis({ port: plain.port });
    try {
      assert.equal(await target.dbsize(), KEYS);
      assert.equal(await target.get('key:2999'), 'value-2999');
      assert.ok((await target.pttl('key:3')) > 3_500_000);
    } finally {
      target.disconnect();
    }

    const intoCluster = await backups.cli(['restore', 'cluster', file], { yes: true });
    assert.equal(intoCluster.code, EXIT.failure);
    assert.match(intoCluster.err, /is a Redis Cluster node: restoring a logical backup into a Redis Cluster is not supported yet/);
  });
});
