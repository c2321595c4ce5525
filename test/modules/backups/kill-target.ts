// A stand-in for the agent in the kill -9 test: starts the backups module on the config given as argv[2],
// runs the named job and stays up until killed.
import { configSchema } from '../../../src/modules/backups/config.js';
import { declareMetrics } from '../../../src/modules/backups/metrics.js';
import { BackupRunner } from '../../../src/modules/backups/runner.js';
import { createTestContext } from '../../helpers/module-context.js';

const config = configSchema.parse(JSON.parse(process.argv[2]!));
const test = await createTestContext('backups');
const runner = new BackupRunner(test.ctx, config, declareMetrics(test.registrar));
await runner.start();
runner.runNow(process.argv[3]!);
setInterval(() => undefined, 60_000);
