import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SERIES_KEYS } from '../../../src/modules/probes/metrics.js';
import { freePort } from '../../harness/ports.js';
import { redisCommand } from '../../harness/redis-client.js';
import { startSentinel, type SentinelServer } from '../../harness/redis-sentinel.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { startSilentListener, startTcpProxy } from '../../harness/tcp-fakes.js';
import { checkOnce, eventually, startProber } from './fixture.js';

const PASSWORD = 'master-secret';
const SENTINEL_PASSWORD = 'sentinel-secret';
// With a sentinel the url gives only scheme, password and db; its host is never connected to.
const VIA_SENTINEL_URL = `redis://:${PASSWORD}@mymaster`;

/** Clients connected to a sentinel or server, not counting the connection that asks. */
async function connectedClients(port: number, password?: string): Promise<number> {
  const info = String(await redisCommand({ port, password }, 'INFO', 'clients'));
  return Number(/connected_clients:(\d+)/.exec(info)![1]) - 1;
}

/**
 * The probe's connections to a Redis server: unnamed normal clients. A sentinel names its links
 * sentinel-<id>-cmd/-pubsub, a replica's link has flag S, and the connection that asks runs CLIENT LIST.
 */
async function probeConnectionIds(port: number): Promise<string[]> {
  const list = String(await redisCommand({ port, password: PASSWORD }, 'CLIENT', 'LIST'));
  const lines = list.split('\n').filter((line) => / name= /.test(line) && / flags=N /.test(line) && !/cmd=client\|list/.test(line));
  return lines.map((line) => /^id=(\d+)/.exec(line)![1]!);
}

async function probeConnections(port: number): Promise<number> {
  return (await probeConnectionIds(port)).length;
}

describe('redis probes through a sentinel', () => {
  let master: RedisServer;
  let sentinel: SentinelServer;
  let guarded: SentinelServer;
  before(async () => {
    master = await startRedis({ password: PASSWORD });
    [sentinel, guarded] = await Promise.all([
      startSentinel(master, { masterPassword: PASSWORD }),
      startSentinel(master, { masterPassword: PASSWORD, password: SENTINEL_PASSWORD }),
    ]);
  });
  after(async () => {
    await Promise.all([sentinel?.stop(), guarded?.stop()]);
    await master?.stop();
  });

  const via = (addresses: string[], extra: Record<string, unknown> = {}) => ({
    type: 'redis',
    url: VIA_SENTINEL_URL,
    sentinel: { master: 'mymaster', addresses, ...extra },
  });

  test('up, with the master INFO facts a direct probe reports', async () => {
    const fixture = await startProber([
      { name: 'direct', type: 'redis', url: master.url },
      { name: 'via', ...via([sentinel.address]) },
    ]);
    try {
      const direct = await fixture.check('direct');
      const through = await fixture.check('via');
      assert.equal(through.status, 'up', JSON.stringify(through.last));
      assert.equal(through.last?.reason, 'ok');
      assert.equal(through.last?.message, direct.last?.message);
      assert.deepEqual(through.last?.details, direct.last?.details);
      assert.equal(through.last?.details.role, 'master');
      assert.equal(through.target, `sentinel mymaster (${sentinel.address})`);
      for (const key of SERIES_KEYS.filter((k) => k.startsWith('caretaker_probe_redis_'))) {
        const [a, b] = [await fixture.sample(key, { probe: 'direct' }), await fixture.sample(key, { probe: 'via' })];
        assert.equal(b === undefined, a === undefined, `${key}: direct ${a}, via sentinel ${b}`);
        // Client count and memory move between the two checks; the rest is the same server's state.
        if (!/connected_clients|used_memory/.test(key)) assert.equal(b, a, key);
      }
      assert.equal(await fixture.sample('caretaker_probe_redis_master_link_up', { probe: 'via' }), undefined);
    } finally {
      await fixture.stop();
    }
  });

  test('an unknown master name: reason query, and the message names it and the sentinel', async () => {
    const view = await checkOnce(via([sentinel.address], { master: 'nosuchmaster' }));
    assert.equal(view.status, 'down');
    assert.equal(view.last?.reason, 'query');
    assert.equal(view.last?.message, `asking sentinel ${sentinel.address} for master 'nosuchmaster': the sentinel monitors no master of that name`);
  });

  test('the sentinel unreachable: reason refused, at once', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const view = await checkOnce({ ...via([dead]), timeout: '2s' });
    assert.equal(view.last?.reason, 'refused', JSON.stringify(view.last));
    assert.equal(view.last?.message, `asking sentinel ${dead} for master 'mymaster': connect ECONNREFUSED ${dead}`);
    assert.ok(view.last!.latencyMs < 2_000, `took ${view.last!.latencyMs} ms`);
  });

  test('a sentinel host that does not resolve: reason dns', async () => {
    const view = await checkOnce(via(['caretaker-test.invalid:26379']));
    assert.equal(view.last?.reason, 'dns', JSON.stringify(view.last));
    assert.match(view.last!.message, /^asking sentinel caretaker-test\.invalid:26379 for master 'mymaster': getaddrinfo/);
  });

  test('one sentinel dead or hung, another answering: up, and no sentinel connection stays open', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const silent = await startSilentListener();
    try {
      const view = await checkOnce({ ...via([dead, `127.0.0.1:${silent.port}`, sentinel.address]), timeout: '2s' });
      assert.equal(view.status, 'up', JSON.stringify(view.last));
      assert.ok(await eventually(() => silent.connections() === 0), `${silent.connections()} connections to the hung sentinel`);
    } finally {
      await silent.close();
    }
  });

  test('several sentinels failing: the one that answered decides the reason, the message lists each', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const view = await checkOnce(via([dead, sentinel.address], { master: 'other' }));
    assert.equal(view.last?.reason, 'query');
    assert.equal(
      view.last?.message,
      `asking sentinels for master 'other': ${dead}: connect ECONNREFUSED ${dead}; ${sentinel.address}: the sentinel monitors no master of that name`,
    );
  });

  test('a sentinel with requirepass: right password up; wrong or missing, reason auth', async () => {
    const right = await checkOnce(via([guarded.address], { password: SENTINEL_PASSWORD }));
    assert.equal(right.status, 'up', JSON.stringify(right.last));
    const wrong = await checkOnce(via([guarded.address], { password: 'nope' }));
    assert.equal(wrong.last?.reason, 'auth');
    assert.match(wrong.last!.message, /^asking sentinel .* for master 'mymaster': WRONGPASS/);
    const missing = await checkOnce(via([guarded.address]));
    assert.equal(missing.last?.reason, 'auth');
    assert.match(missing.last!.message, /NOAUTH/);
    assert.ok(!right.target.includes(SENTINEL_PASSWORD) && !right.target.includes(PASSWORD), right.target);
  });

  test('the master password is still the url one: wrong, reason auth from the master', async () => {
    const view = await checkOnce({ ...via([sentinel.address]), url: 'redis://:nope@mymaster' });
    assert.equal(view.last?.reason, 'auth');
    assert.match(view.last!.message, /^WRONGPASS/);
  });
});

test('rediss:// through a sentinel talks TLS to the master it names', async () => {
  const master = await startRedis({ password: PASSWORD, tls: true });
  // The sentinel must reach the master on its TLS port to hand that port out.
  const sentinel = await startSentinel({ host: master.host, port: master.tlsPort! }, { masterPassword: PASSWORD, masterCa: master.ca });
  try {
    const probe = { type: 'redis', url: `rediss://:${PASSWORD}@mymaster`, sentinel: { master: 'mymaster', addresses: [sentinel.address] } };
    const verified = await checkOnce({ ...probe, tls: { ca: master.ca } });
    assert.equal(verified.status, 'up', JSON.stringify(verified.last));
    const unknownCa = await checkOnce(probe);
    assert.equal(unknownCa.last?.reason, 'tls', JSON.stringify(unknownCa.last));
  } finally {
    await sentinel.stop();
    await master.stop();
  }
});

test('30 master outages through a sentinel leave no sentinel connection and one master connection', async () => {
  const master = await startRedis({ password: PASSWORD });
  const proxy = await startTcpProxy(master.port);
  // The sentinel hands out the proxy, so switching the proxy off is a master outage the probe sees through it.
  const sentinel = await startSentinel({ host: '127.0.0.1', port: proxy.port }, { masterPassword: PASSWORD, password: SENTINEL_PASSWORD });
  const sentinelBlock = { master: 'mymaster', addresses: [sentinel.address], password: SENTINEL_PASSWORD };
  const fixture = await startProber([
    { name: 'cache', type: 'redis', url: VIA_SENTINEL_URL, timeout: '1s', sentinel: sentinelBlock },
    { name: 'typo', type: 'redis', url: VIA_SENTINEL_URL, timeout: '1s', sentinel: { ...sentinelBlock, master: 'mymastr' } },
  ]);
  try {
    for (let cycle = 0; cycle < 30; cycle++) {
      await proxy.down();
      const down = await fixture.check('cache');
      assert.equal(down.last?.reason, 'refused', `cycle ${cycle}: ${JSON.stringify(down.last)}`);
      await proxy.up();
      const up = await fixture.check('cache');
      assert.equal(up.status, 'up', `cycle ${cycle}: ${JSON.stringify(up.last)}`);
      assert.equal((await fixture.check('typo')).last?.reason, 'query', `cycle ${cycle}`);
    }
    const sentinelClients = () => connectedClients(sentinel.port, SENTINEL_PASSWORD);
    assert.ok(await eventually(async () => (await sentinelClients()) === 0), `the sentinel sees ${await sentinelClients()} probe connections`);
    assert.ok(await eventually(async () => (await probeConnections(master.port)) === 1), `the master sees ${await probeConnections(master.port)} probe connections`);
    await fixture.stop();
    assert.ok(await eventually(async () => (await probeConnections(master.port)) === 0), `the master sees ${await probeConnections(master.port)} connections after stop`);
  } finally {
    await fixture.stop();
    await sentinel.stop();
    await proxy.close();
    await master.stop();
  }
});

test('after a failover the next check is on the new master, though the old one still answers', async () => {
  const master = await startRedis({ password: PASSWORD });
  const replica = await startRedis({ password: PASSWORD, extraArgs: ['--replicaof', '127.0.0.1', String(master.port), '--masterauth', PASSWORD] });
  const sentinel = await startSentinel(master, { masterPassword: PASSWORD });
  const fixture = await startProber([{ name: 'cache', type: 'redis', url: VIA_SENTINEL_URL, timeout: '1s', sentinel: { master: 'mymaster', addresses: [sentinel.address] } }]);
  const ask = (...args: string[]) => redisCommand({ port: sentinel.port }, 'SENTINEL', ...args);
  try {
    assert.equal((await fixture.check('cache')).last?.details.role, 'master');
    const kept = await probeConnectionIds(master.port);
    assert.equal(kept.length, 1);
    await fixture.check('cache');
    assert.deepEqual(await probeConnectionIds(master.port), kept, 'the connection is kept while the sentinel names the same master');
    // A sentinel learns of replicas from the master's INFO, which it reads every 10 s.
    const knowsReplica = async () => JSON.stringify(await ask('REPLICAS', 'mymaster')).includes(String(replica.port));
    assert.ok(await eventually(knowsReplica, 15_000), 'the sentinel never saw the replica');
    // A replica the sentinel has just seen may not be a good one yet (its link state comes with the next INFO).
    const failover = () => ask('FAILOVER', 'mymaster').then(() => true, (err: Error) => (/NOGOODSLAVE/.test(err.message) ? false : Promise.reject(err)));
    assert.ok(await eventually(failover, 15_000), 'the sentinel never found the replica good to promote');
    const promoted = async () => JSON.stringify(await ask('GET-MASTER-ADDR-BY-NAME', 'mymaster')).includes(String(replica.port));
    assert.ok(await eventually(promoted, 15_000), 'the failover did not happen');
    // The old master answers as a master for seconds more; the check asks the sentinel, not it.
    assert.equal(((await redisCommand({ port: master.port, password: PASSWORD }, 'ROLE')) as string[])[0], 'master');
    const view = await fixture.check('cache');
    assert.equal(view.status, 'up', JSON.stringify(view.last));
    assert.equal(view.last?.details.role, 'master');
    assert.equal(view.last?.details.roundTrip, 'ok');
    assert.equal(await probeConnections(replica.port), 1, 'the probe is connected to the new master');
    assert.ok(await eventually(async () => (await probeConnections(master.port)) === 0), 'the connection to the old master is closed');
    assert.equal(await redisCommand({ port: replica.port, password: PASSWORD }, 'EXISTS', 'caretaker:probe:cache'), 0);
  } finally {
    await fixture.stop();
    await sentinel.stop();
    await replica.stop();
    await master.stop();
  }
});
