// A stand-in for the agent in the kill -9 tests: starts the backups module on the config given as argv[2],
// runs the job named by argv[3] and stays up until killed. With argv[4] 'on-go' it loads, then waits for a
// line on stdin before it starts, so a test can warm the next one up while it checks the last kill, and
// exits when stdin ends. Its state dir is KILL_TARGET_STATE_DIR, which the test removes.
import { once } from 'node:events';
import { configSchema } from '../../../src/modules/backups/config.js';
import { declareMetrics } from '../../../src/modules/backups/metrics.js';
import { BackupRunner } from '../../../src/modules/backups/runner.js';
import { createTestContext } from '../../helpers/module-context.js';

const config = configSchema.parse(JSON.parse(process.argv[2]!));
if (process.argv[4] === 'on-go') {
  await once(process.stdin, 'data');
  // The test keeps stdin open: its end is the test gone (a timeout, a crash), and this agent goes with it.
  process.stdin.once('end', () => process.exit(1));
}
const test = await createTestContext('backups', { stateDir: process.env.KILL_TARGET_STATE_DIR });
const runner = new BackupRunner(test.ctx, config, declareMetrics(test.registrar));
await runner.start();
runner.runNow(process.argv[3]!);
setInterval(() => undefined, 60_000);
