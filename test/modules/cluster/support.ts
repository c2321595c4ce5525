import { Registry } from 'prom-client';
import { createRegistrar } from '../../../src/agent/kit/metrics.js';
import { configSchema } from '../../../src/modules/cluster/config.js';
import { declareMetrics } from '../../../src/modules/cluster/metrics.js';
import { ClusterNode } from '../../../src/modules/cluster/node.js';
import { createTestContext, type TestModuleContext } from '../../helpers/module-context.js';

export const KEY = 'a-cluster-key-of-at-least-32-characters!';

export interface TestNode {
  node: ClusterNode;
  test: TestModuleContext;
  registry: Registry;
  dispose(): Promise<void>;
}

/** A started cluster node on a real ModuleContext against `redis`. */
export async function startNode(redis: string, node: string, extra: Record<string, unknown> = {}, context: { stateDir?: string } = {}): Promise<TestNode> {
  const test = await createTestContext('cluster', context);
  const registry = new Registry();
  const config = configSchema.parse({ redis, name: 'test', node, leaseTtl: '2s', encryptionKey: KEY, ...extra });
  const instance = new ClusterNode(test.ctx, config, declareMetrics(createRegistrar(registry)));
  await instance.start();
  return {
    node: instance,
    test,
    registry,
    async dispose() {
      await instance.stop();
      await test.dispose();
    },
  };
}

/** Waits (bounded) until the node has reached its Redis. */
export async function reachable(node: ClusterNode, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!node.reachable()) {
    if (Date.now() > deadline) throw new Error('cluster node did not reach its Redis');
    await new Promise((r) => setTimeout(r, 20));
  }
}
