// Child process for crash.test.ts: loads, says "ready", waits for a line on stdin, then renews one
// certificate in a loop until it is killed with SIGKILL.
import { once } from 'node:events';
import { configSchema } from '../../../src/modules/certificates/config.js';
import { createManager } from './fixtures.js';

const { section, stateDir } = JSON.parse(process.argv[2]!) as { section: unknown; stateDir: string };
const f = await createManager(configSchema.parse(section), {}, { stateDir });
// The module loads acme-client with its first order; loading it here keeps that cost out of the kill window.
await import('acme-client');
process.stdout.write('ready\n');
await once(process.stdin, 'data');
for (;;) {
  const outcome = await f.manager.renew('crash');
  process.stdout.write(`${outcome.result}${outcome.result === 'failure' ? ` ${outcome.certificate.lastError}` : ''}\n`);
}
