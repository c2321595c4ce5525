// The cluster module in the real agent: two agents on one Redis, /cluster, `caretaker cluster`, /metrics,
// health while its Redis is down.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runCli } from '../../../src/agent/cli/index.js';
import { cluster } from '../../../src/modules/cluster/index.js';
import type { ClusterAnswer } from '../../../src/modules/cluster/answers.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { baseConfig, startTestAgent, type TestAgent } from '../../helpers/agent.js';
import { KEY, reachable, startNode } from './support.js';

let redis: RedisServer;
before(async () => {
  redis = await startRedis({ password: 'pw for the cluster' });
});
after(() => redis?.stop());

function clusterYaml(node: string): (dir: string) => string {
  return (dir) => baseConfig(dir, `cluster:\n  redis: "${redis.url}"\n  name: prod\n  node: ${node}\n  leaseTtl: 2s\n  encryptionKey: "${KEY}"\n`);
}

async function cli(agent: TestAgent, args: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await runCli([...args, '--url', agent.adminAddress, '--config', agent.configPath], [cluster], { out: (s) => out.push(s), err: (s) => out.push(s), env: {} });
  return { code, out: out.join('\n') };
}

async function answer(agent: TestAgent): Promise<ClusterAnswer> {
  return (await (await fetch(agent.adminUrl('/cluster'))).json()) as ClusterAnswer;
}

test('two agents: both nodes listed, a lease shown with its holder and fence, the CLI table, metrics; Redis down → exit 1 and degraded', async (t) => {
  const one = await startTestAgent(clusterYaml('web-1'), [cluster]);
  const two = await startTestAgent(clusterYaml('web-2'), [cluster]);
  try {
    const deadline = Date.now() + 10_000;
    let seen = await answer(one);
    while (seen.nodes.length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await answer(one);
    }
    assert.deepEqual(seen.nodes.map((n) => n.node).sort(), ['web-1', 'web-2']);
    assert.equal(seen.reachable, true);
    // A third node of the same cluster, in this process, takes a lease both agents can see.
    const three = await startNode(redis.url, 'web-3', { name: 'prod' });
    t.after(() => three.dispose());
    await reachable(three.node);
    const taken = await three.node.acquire('backup:pg');
    assert.ok('lease' in taken);
    const fromTwo = await answer(two);
    assert.deepEqual(
      fromTwo.leases.map((l) => [l.name, l.holder, l.token, l.fence, l.heldHere]),
      [['backup:pg', 'web-3', 1, 1, false]],
    );
    const table = await cli(two, ['cluster']);
    assert.equal(table.code, 0, table.out);
    assert.match(table.out, /cluster prod, this node web-2, lease TTL 2s/);
    assert.match(table.out, /web-2 \(this\)/);
    assert.match(table.out, /backup:pg\s+web-3\s+1\s+1\s+\d\.\ds/);
    assert.ok(!table.out.includes('pw for the cluster'));
    assert.match(await (await fetch(one.metricsUrl())).text(), /caretaker_cluster_redis_up 1/);
    await taken.lease.release();

    await redis.down();
    try {
      const down = await cli(one, ['cluster']);
      assert.equal(down.code, 1, down.out);
      assert.match(down.out, /Redis UNREACHABLE/);
      const status = (await (await fetch(one.adminUrl('/status'))).json()) as { modules: Array<{ name: string; health?: { status: string; message?: string } }> };
      const health = status.modules.find((m) => m.name === 'cluster')?.health;
      assert.equal(health?.status, 'degraded', JSON.stringify(health));
      assert.match(health?.message ?? '', /cluster Redis unreachable/);
    } finally {
      await redis.up();
    }
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
});
