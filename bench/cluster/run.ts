// The cluster's three numbers (issue 21): lease failover after kill -9 of the holder, Redis commands per node per
// minute at idle, and time from a new certificate in the shared store to it being served on every node.
//
//   node --import tsx bench/cluster/run.ts [--rounds 5] [--idle 120]
//
// Everything on loopback: one redis-server only this bench uses (its INFO commandstats is the count), one pebble
// behind the recording ACME proxy, three real agents (cluster + certificates, own state dirs and ports) in this
// process, each with a TLS server that presents its live/<name>/ as it is on disk at each handshake.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { servedSerial } from '../../src/modules/certificates/deploy.js';
import { freePort } from '../../test/harness/ports.js';
import { redisCommand } from '../../test/harness/redis-client.js';
import { startRedis } from '../../test/harness/redis.js';
import { reachable, startNode } from '../../test/modules/cluster/support.js';
import { DOMAIN, renew, startCa, startFleetNode, waitFor, type FleetNode } from '../../test/modules/certificates/cluster-support.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, idle: { type: 'string', default: '120' } } });
const ROUNDS = Number(values.rounds);
const IDLE_S = Number(values.idle);
if (!(Number.isInteger(ROUNDS) && ROUNDS >= 1 && ROUNDS <= 20)) throw new Error('--rounds: 1 to 20');
if (!(Number.isInteger(IDLE_S) && IDLE_S >= 30 && IDLE_S <= 600)) throw new Error('--idle: 30 to 600 seconds');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => loadavg()[0]!.toFixed(1);

/** 1. kill -9 of a holder process (test/modules/cluster/holder.ts, leaseTtl 2s) → another node takes the lease. */
async function failover(redisUrl: string): Promise<number[]> {
  const taker = await startNode(redisUrl, 'taker');
  await reachable(taker.node);
  const times: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const lease = `failover-${round}`;
      const child = spawn(process.execPath, ['--import', 'tsx', new URL('../../test/modules/cluster/holder.ts', import.meta.url).pathname, redisUrl, `holder-${round}`, lease], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const lines = createInterface({ input: child.stdout });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the holder never wrote under its lease')), 30_000);
        lines.on('line', (line) => {
          if ('wrote' in (JSON.parse(line) as object)) clearTimeout(timer), resolve();
        });
      });
      child.kill('SIGKILL');
      const killedAt = performance.now();
      for (;;) {
        const taken = await taker.node.acquire(lease);
        if ('lease' in taken) {
          times.push(performance.now() - killedAt);
          await taken.lease.release();
          break;
        }
        if (performance.now() - killedAt > 30_000) throw new Error('no takeover within 30 s');
        await sleep(10);
      }
    }
  } finally {
    await taker.dispose();
  }
  return times;
}

/** Sum of INFO commandstats calls, leaving out the bench's own INFO and CONFIG. */
async function commandCalls(port: number): Promise<{ total: number; by: Record<string, number> }> {
  const info = String(await redisCommand({ port }, 'INFO', 'commandstats'));
  const by: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!/^(info|config)/.test(match[1]!)) by[match[1]!] = Number(match[2]);
  return { total: Object.values(by).reduce((a, b) => a + b, 0), by };
}

const redis = await startRedis();
const ca = await startCa();
const nodes: FleetNode[] = [];
try {
  console.log(`load ${load()}; rounds ${ROUNDS}, idle ${IDLE_S} s`);
  const failovers = await failover(redis.url);
  console.log(`failover after kill -9 (leaseTtl 2 s, target <= ${2000 + 667} ms): median ${median(failovers).toFixed(0)} ms, max ${Math.max(...failovers).toFixed(0)} ms [${failovers.map((t) => t.toFixed(0)).join(', ')}]`);

  // The production defaults: leaseTtl 15s, renewCheckInterval 5m (a check every minute in a cluster).
  for (const name of ['web-1', 'web-2', 'web-3']) {
    nodes.push(await startFleetNode(redis, ca, name, { httpPort: name === 'web-1' ? ca.pebble.httpPort : await freePort(), leaseTtl: '15s', renewCheckInterval: '5m' }));
  }
  const served = () => Promise.all(nodes.map((n) => servedSerial(n.target, DOMAIN).catch(() => '')));
  const first = await waitFor('the first certificate on every node', async () => {
    const s = await served();
    return s[0] && s.every((x) => x === s[0]) ? s[0] : undefined;
  }, 120_000, 100);
  console.log(`first certificate ${first} on all three; newOrders ${ca.proxy.newOrders.length}`);

  // Past every node's first check after the install (one ARI pass, once per version): the idle that stays.
  await sleep(65_000);
  await redisCommand({ port: redis.port }, 'CONFIG', 'RESETSTAT');
  const idleFrom = performance.now();
  await sleep(IDLE_S * 1000);
  const idle = await commandCalls(redis.port);
  const minutes = (performance.now() - idleFrom) / 60_000;
  console.log(`idle: ${idle.total} commands from 3 nodes in ${minutes.toFixed(2)} min = ${(idle.total / 3 / minutes).toFixed(1)} per node per minute (target < 30) ${JSON.stringify(idle.by)}`);

  // A new version stored by one node → served by all three: from the fenced write (the record's serial changes in
  // Redis, polled every 5 ms; announcements also carry ARI updates, so they cannot date it) to the last node's TLS
  // server presenting the new serial.
  const poller = new Redis({ port: redis.port, host: '127.0.0.1' });
  const storedSerial = async () => {
    const raw = await poller.hget('caretaker:fleet:state:cert:site', 'v');
    return raw ? (JSON.parse(raw) as { serial: string }).serial : '';
  };
  const spreads: number[] = [];
  let retries = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const previous = await storedSerial();
      const renewing = renew(nodes[round % 3]!);
      let storedAt = 0;
      let serial = '';
      // Bounded: a renewal that fails (a 409 while another node holds the lease for its ARI pass) is retried.
      const deadline = performance.now() + 60_000;
      let failed = false;
      void renewing.then((x) => (failed = x.status !== 200));
      while (!storedAt && !failed && performance.now() < deadline) {
        serial = await storedSerial();
        if (serial && serial !== previous) storedAt = performance.now();
        else await sleep(5);
      }
      if (!storedAt) {
        if (++retries > 10) throw new Error('10 renewals refused');
        console.log(`round ${round}: ${JSON.stringify((await renewing).body)}; again`);
        round--;
        continue;
      }
      for (;;) {
        const s = await served();
        if (s.every((x) => x === serial)) break;
        if (performance.now() > deadline) throw new Error(`not served on every node within 60 s: ${s.join(', ')} (want ${serial})`);
        await sleep(5);
      }
      spreads.push(performance.now() - storedAt);
      const answer = await renewing;
      if (answer.status !== 200 || answer.body.certificate?.serial !== serial) throw new Error(`renewal: ${JSON.stringify(answer.body)}`);
    }
  } finally {
    poller.disconnect();
  }
  console.log(`stored → served on all three (target < 2000 ms): median ${median(spreads).toFixed(0)} ms, max ${Math.max(...spreads).toFixed(0)} ms [${spreads.map((t) => t.toFixed(0)).join(', ')}]`);
  console.log(`newOrders ${ca.proxy.newOrders.length} for ${1 + ROUNDS} certificates; load ${load()}`);
} finally {
  await Promise.all(nodes.map((n) => n.close()));
  await Promise.all([ca.stop(), redis.stop()]);
}
