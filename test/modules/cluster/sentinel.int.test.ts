// The cluster's Redis found through a real Sentinel, and followed across a failover.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisCommand } from '../../harness/redis-client.js';
import { startSentinel } from '../../harness/redis-sentinel.js';
import { startRedis } from '../../harness/redis.js';
import { reachable, startNode } from './support.js';

const PASSWORD = 'cluster over sentinel';

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await sleep(200);
  }
  return false;
}

test('a node reaches the master the sentinel names, takes leases there, and follows a failover to the new master', async () => {
  const master = await startRedis({ password: PASSWORD });
  const replica = await startRedis({ password: PASSWORD, extraArgs: ['--replicaof', '127.0.0.1', String(master.port), '--masterauth', PASSWORD] });
  const sentinel = await startSentinel(master, { masterPassword: PASSWORD });
  // The url's host and port are not asked: the sentinel says where the master is.
  const member = await startNode(`redis://:${encodeURIComponent(PASSWORD)}@sentinel-decides:1`, 'web-1', { sentinel: { master: 'mymaster', addresses: [sentinel.address] } });
  const ask = (...args: string[]) => redisCommand({ port: sentinel.port }, 'SENTINEL', ...args);
  try {
    await reachable(member.node);
    const first = await member.node.acquire('before');
    assert.ok('lease' in first);
    assert.equal(await redisCommand({ port: master.port, password: PASSWORD }, 'EXISTS', 'caretaker:test:lease:before'), 1, 'the lease is on the master');
    await first.lease.release();

    const knowsReplica = async () => JSON.stringify(await ask('REPLICAS', 'mymaster')).includes(String(replica.port));
    assert.ok(await eventually(knowsReplica, 15_000), 'the sentinel never saw the replica');
    const failover = () => ask('FAILOVER', 'mymaster').then(() => true, (err: Error) => (/NOGOODSLAVE/.test(err.message) ? false : Promise.reject(err)));
    assert.ok(await eventually(failover, 15_000), 'the sentinel never found the replica good to promote');
    const promoted = async () => JSON.stringify(await ask('GET-MASTER-ADDR-BY-NAME', 'mymaster')).includes(String(replica.port));
    assert.ok(await eventually(promoted, 15_000), 'the failover did not happen');

    // The old master answers as a master for a few seconds more; ioredis moves when it is told (a READONLY
    // reply, a reconnect), after which every lease lands on the promoted one.
    const onNewMaster = async () => {
      const name = `after-${Date.now()}`;
      const result = await member.node.acquire(name);
      if (!('lease' in result)) return false;
      const there = (await redisCommand({ port: replica.port, password: PASSWORD }, 'EXISTS', `caretaker:test:lease:${name}`)) === 1;
      await result.lease.release();
      return there;
    };
    assert.ok(await eventually(onNewMaster, 30_000), 'leases never reached the promoted master');
    assert.ok(member.node.reachable());
  } finally {
    await member.dispose();
    await sentinel.stop();
    await replica.stop();
    await master.stop();
  }
});
