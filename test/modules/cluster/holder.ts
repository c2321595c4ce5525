// A cluster node in its own process, for the faults a test cannot cause in-process (SIGKILL, SIGSTOP): it
// takes the lease argv[4] and then, every 100 ms, writes `tick <n>` under it to the shared key of the same
// name, printing one JSON line per step (taken, wrote, refused, lost).
import { LeaseLostError } from '../../../src/agent/kit/cluster.js';
import { startNode } from './support.js';

const [redis, node, lease] = process.argv.slice(2) as [string, string, string];
// Killed by the test, so its state dir is the test's to remove.
const member = await startNode(redis, node, {}, { stateDir: process.env.HOLDER_STATE_DIR });
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
let taken;
while (!taken) {
  const result = await member.node.acquire(lease).catch(() => undefined);
  if (result && 'lease' in result) taken = result.lease;
  else await new Promise((r) => setTimeout(r, 50));
}
say({ taken: taken.token });
for (let tick = 1; ; tick++) {
  await new Promise((r) => setTimeout(r, 100));
  try {
    await member.node.write(lease, `tick ${tick} by ${node} token ${taken.token}`, taken);
    say({ wrote: tick });
  } catch (err) {
    say({ refused: tick, lost: err instanceof LeaseLostError, message: (err as Error).message });
    break;
  }
}
await member.dispose();
