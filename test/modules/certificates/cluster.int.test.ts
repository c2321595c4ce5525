// Shared certificates across a cluster (issue 21): three real agents on one Redis and one pebble.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ariCertId } from '../../../src/modules/certificates/ari.js';
import { servedSerial } from '../../../src/modules/certificates/deploy.js';
import { freePort } from '../../harness/ports.js';
import { liveSetMatches } from './fixtures.js';
import { blockLease, CERT, DOMAIN, renew, startCa, startFleetNode, startRedis, view, waitFor, type Ca, type FleetNode, type RedisServer } from './cluster-support.js';

let redis: RedisServer;
let ca: Ca;
let nodes: FleetNode[] = [];

before(async () => {
  [redis, ca] = await Promise.all([startRedis(), startCa()]);
});
after(async () => {
  // FLEET_LOGS=1: every node's log lines on stderr, to read a failure.
  if (process.env.FLEET_LOGS) for (const n of nodes) for (const l of n.agent.logs) console.error(n.name, JSON.stringify(l));
  await Promise.all(nodes.map((n) => n.close()));
  await Promise.all([redis?.stop(), ca?.stop()]);
});

const served = () => Promise.all(nodes.map((n) => servedSerial(n.target, DOMAIN).catch(() => '')));

/** Every node serves `serial` (or, without one, the same serial as the others); returns it. */
async function allServe(what: string, serial?: string, timeoutMs = 30_000): Promise<string> {
  return waitFor(
    what,
    async () => {
      const serials = await served();
      const want = serial ?? serials[0];
      return want && serials.every((s) => s === want) ? want : undefined;
    },
    timeoutMs,
    100,
  );
}

async function allMatch(): Promise<void> {
  for (const node of nodes) {
    const set = await liveSetMatches(node.liveDir.replace(/\/live\/[^/]+$/, ''), CERT);
    assert.ok(set.ok, `${node.name}: live key and certificate do not match`);
  }
}

const logged = (node: FleetNode, msg: string) => node.agent.logs.some((l) => l.msg === msg);

test('three nodes: one order, installed on every node, the same serial served by each; the http-01 token answered by a node that did not order', async () => {
  // The test holds the lease until all three have looked once, so web-a (the only one checking every second)
  // orders, and only web-b listens on the port pebble validates at.
  const block = await blockLease(redis);
  const [portA, portC] = await Promise.all([freePort(), freePort()]);
  const b = await startFleetNode(redis, ca, 'web-b', { httpPort: ca.pebble.httpPort });
  const c = await startFleetNode(redis, ca, 'web-c', { httpPort: portC });
  const a = await startFleetNode(redis, ca, 'web-a', { httpPort: portA, renewCheckInterval: '1s' });
  nodes = [a, b, c];
  await waitFor('each node to find the lease held', async () => (nodes.every((n) => logged(n, 'renewal skipped')) ? true : undefined));
  await block.free();

  const serial = await allServe('all three to serve one certificate', undefined, 60_000);
  assert.equal(ca.proxy.newOrders.length, 1, 'one newOrder for three nodes');
  assert.ok(logged(a, 'renewing certificate'));
  assert.ok(!logged(b, 'renewing certificate') && !logged(c, 'renewing certificate'), 'only web-a ordered');
  assert.ok(logged(b, 'answering an http-01 token of another node'), 'web-b answered web-a\'s token from Redis');
  for (const node of nodes) {
    const v = await waitFor(`${node.name}'s deploy`, async () => {
      const current = await view(node);
      return current.deploy ? current : undefined;
    });
    assert.equal(v.serial, serial);
    assert.deepEqual({ ok: v.deploy?.ok, state: v.state }, { ok: true, state: 'valid' }, v.deploy?.message);
  }
  await allMatch();
  assert.ok(logged(b, 'certificate installed from the cluster store') && logged(c, 'certificate installed from the cluster store'));
});

test('Redis unreachable for 30 s (SIGSTOP): every node keeps serving, nothing deleted or ordered, renewals refused naming the cause; after SIGCONT work resumes with one order', async () => {
  assert.equal(nodes.length, 3, 'needs the first test');
  const before = await allServe('the certificate of the first test');
  const orders = ca.proxy.newOrders.length;
  process.kill(redis.pid, 'SIGSTOP');
  try {
    await waitFor(
      'every node to see Redis unreachable',
      async () => {
        const states = await Promise.all(nodes.map(async (n) => (await (await fetch(n.agent.adminUrl('/cluster'))).json()) as { reachable: boolean }));
        return states.every((s) => !s.reachable) ? true : undefined;
      },
      10_000,
      200,
    );
    for (const node of nodes) {
      const answer = await renew(node);
      assert.equal(answer.status, 409, JSON.stringify(answer.body));
      assert.match(answer.body.message ?? '', /cluster Redis unreachable/);
    }
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      assert.deepEqual(await served(), [before, before, before]);
      await sleep(1000);
    }
    await allMatch();
    assert.equal(ca.proxy.newOrders.length, orders, 'no order while Redis was unreachable');
  } finally {
    process.kill(redis.pid, 'SIGCONT');
  }
  const b = nodes[1]!;
  const renewed = await waitFor('a renewal once Redis answers', async () => {
    const answer = await renew(b);
    return answer.status === 200 ? answer.body : undefined;
  }, 20_000, 500);
  assert.equal(renewed.result, 'success', renewed.certificate?.lastError);
  assert.equal(ca.proxy.newOrders.length, orders + 1);
  const after = await allServe('every node to serve the renewed certificate', renewed.certificate!.serial);
  assert.notEqual(after, before);
  await allMatch();
});

test('Redis killed and restarted empty: nothing is ordered because of it; the next renewal is one order and every node installs the same matching set', async () => {
  assert.equal(nodes.length, 3, 'needs the first test');
  const before = await allServe('the current certificate');
  const orders = ca.proxy.newOrders.length;
  await redis.down();
  await redis.up();
  // web-a checks every second: the shared record is gone, but its live certificate is fresh.
  await sleep(5000);
  assert.equal(ca.proxy.newOrders.length, orders, 'the empty store alone orders nothing');
  assert.deepEqual(await served(), [before, before, before]);
  // All three asked at once: one takes the lease and orders, the others are told who holds it.
  const answers = await waitFor('renewals once the nodes are back on Redis', async () => {
    const all = await Promise.all(nodes.map((n) => renew(n)));
    return all.some((x) => x.status === 200) ? all : undefined;
  }, 20_000, 500);
  const ok = answers.filter((x) => x.status === 200);
  assert.equal(ok.length, 1, JSON.stringify(answers.map((x) => [x.status, x.body.message])));
  for (const refused of answers.filter((x) => x.status !== 200)) assert.match(refused.body.message ?? '', /being ordered by cluster node web-|cluster Redis unreachable/);
  assert.equal(ca.proxy.newOrders.length, orders + 1, 'at most one order after the restart');
  await allServe('every node to serve the new certificate', ok[0]!.body.certificate!.serial);
  await allMatch();
});

test('ARI: one node reads the renewal window and every node renews at the point it chose', async () => {
  assert.equal(nodes.length, 3, 'needs the first test');
  const start = new Date(Date.now() + 86_400_000);
  const end = new Date(start.getTime() + 86_400_000);
  ca.proxy.renewalInfo = { window: { start: start.toISOString(), end: end.toISOString() }, retryAfter: '3600' };
  try {
    const answer = await waitFor('a renewal', async () => {
      const x = await renew(nodes[2]!);
      return x.status === 200 ? x.body : undefined;
    }, 20_000, 500);
    const serial = answer.certificate!.serial!;
    await allServe('every node to serve it', serial);
    const plans = await waitFor('every node to plan inside the window', async () => {
      const views = await Promise.all(nodes.map((n) => view(n)));
      return views.every((v) => v.serial === serial && v.ari?.windowStart === start.toISOString() && v.renewalReason === 'ari') ? views : undefined;
    }, 20_000, 200);
    assert.equal(new Set(plans.map((v) => v.nextRenewalAt)).size, 1, `one renewal point: ${plans.map((v) => v.nextRenewalAt).join(', ')}`);
    const at = Date.parse(plans[0]!.nextRenewalAt!);
    assert.ok(at >= start.getTime() && at <= end.getTime());
    await sleep(3000);
    const cert = new X509Certificate(await readFile(`${nodes[0]!.liveDir}/cert.pem`));
    const asked = ca.proxy.renewalInfoRequests.filter((r) => r === ariCertId(cert));
    assert.equal(asked.length, 1, 'the CA was asked once for the three nodes');
  } finally {
    ca.proxy.renewalInfo = undefined;
  }
});
