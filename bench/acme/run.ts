// Issuance and renewal-check time: caretaker's certificates module vs certbot and lego (Debian), same pebble, same run.
// Usage: node --import tsx bench/acme/run.ts [issuances=5]
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { requirePackages } from '../require-packages.js';
import { startPebble } from '../../test/harness/pebble.js';
import { makeTempDir } from '../../test/harness/tmpdir.js';
import { createManager, pebbleConfig } from '../../test/modules/certificates/fixtures.js';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

requirePackages({ certbot: 'certbot', lego: 'lego' });
const pebble = await startPebble();
const tmp = await makeTempDir('bench-acme');
try {
  const env = { ...process.env, REQUESTS_CA_BUNDLE: pebble.ca, LEGO_CA_CERTIFICATES: pebble.ca };

  // caretaker, in process (the daemon is already running when it renews); first order registers the account.
  const f = await createManager(
    pebbleConfig(pebble, path.join(tmp.path, 'caretaker'), [
      { name: 'bench', domains: ['bench.example.com'], challenge: { type: 'http-01', standalone: { address: '127.0.0.1', port: pebble.httpPort } } },
    ]),
  );
  await f.manager.renew('bench');
  const agent: number[] = [];
  for (let i = 0; i < N; i++) agent.push(await timed(async () => {
    const outcome = await f.manager.renew('bench');
    if (outcome.result !== 'success') throw new Error(outcome.certificate.lastError);
  }));
  await f.manager.start();
  await f.manager.check();
  const CHECKS = 1000;
  const checkMs = (await timed(async () => {
    for (let i = 0; i < CHECKS; i++) await f.manager.check();
  })) / CHECKS;
  await f.dispose();

  // certbot: standalone on the same port; first run registers.
  const cb = path.join(tmp.path, 'certbot');
  await mkdir(cb);
  const certbotArgs = ['--config-dir', cb, '--work-dir', cb, '--logs-dir', cb, '--non-interactive'];
  const certbotIssue = (extra: string[]) =>
    run('certbot', ['certonly', ...certbotArgs, '--agree-tos', '-m', 'ops@example.com', '--server', pebble.directoryUrl, '--standalone', '--http-01-address', '127.0.0.1', '--http-01-port', String(pebble.httpPort), '--key-type', 'ecdsa', '-d', 'bench.example.com', '--cert-name', 'bench', ...extra], { env });
  await certbotIssue([]);
  const certbot: number[] = [];
  for (let i = 0; i < N; i++) certbot.push(await timed(() => certbotIssue(['--force-renewal'])));
  const certbotCheck = await timed(() => run('certbot', ['renew', ...certbotArgs], { env }));

  // lego: built-in HTTP server on the same port.
  const lp = path.join(tmp.path, 'lego');
  const legoArgs = ['--accept-tos', '--email', 'ops@example.com', '--server', pebble.directoryUrl, '--http', '--http.port', `127.0.0.1:${pebble.httpPort}`, '--domains', 'bench.example.com', '--path', lp, '--key-type', 'ec256'];
  await run('lego', [...legoArgs, 'run'], { env });
  const lego: number[] = [];
  for (let i = 0; i < N; i++) lego.push(await timed(() => run('lego', [...legoArgs, 'renew', '--days', '100000', '--no-random-sleep'], { env })));
  const legoCheck = await timed(() => run('lego', [...legoArgs, 'renew', '--days', '1', '--no-random-sleep'], { env }));

  const a = median(agent);
  const rows = [
    ['caretaker (in process)', a, checkMs],
    ['certbot 2.1 (Debian)', median(certbot), certbotCheck],
    ['lego 4.9 (Debian)', median(lego), legoCheck],
  ] as const;
  console.log(`issuance: median of ${N} orders (1 name, ECDSA P-256, http-01 standalone) on pebble; renewal check: nothing due`);
  for (const [name, issue, check] of rows) {
    console.log(`${name.padEnd(24)} issuance ${issue.toFixed(0).padStart(6)} ms  (${(issue / a).toFixed(2)}x caretaker)   renewal check ${check.toFixed(3).padStart(10)} ms`);
  }
  console.log(`ratio caretaker/certbot issuance: ${(a / median(certbot)).toFixed(3)}x; caretaker/lego: ${(a / median(lego)).toFixed(3)}x`);
  console.log(`renewal check in process: ${checkMs.toFixed(4)} ms (target <= 2 ms); certbot renew: ${certbotCheck.toFixed(0)} ms; lego renew: ${legoCheck.toFixed(0)} ms`);
} finally {
  await pebble.stop();
  await tmp.cleanup();
}
