import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { startPebble, type PebbleServer } from '../../harness/pebble.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { createManager, liveSetMatches, pebbleConfig } from './fixtures.js';
import { fileURLToPath } from 'node:url';

const ITERATIONS = 50;
/** A busy machine makes each process start slow; past this budget the loop stops (after MIN_ITERATIONS at least). */
const TIME_BUDGET_MS = 60_000;
const MIN_ITERATIONS = 20;
/** After its first renewal, the child is killed at a random point within this many ms (an issuance takes ~150-400 ms). */
const KILL_WINDOW_MS = 700;

let pebble: PebbleServer;
let tmp: TempDir;

before(async () => {
  pebble = await startPebble();
  tmp = await makeTempDir('certs-crash');
});

after(async () => {
  await pebble?.stop();
  await tmp?.cleanup();
});

interface WarmChild {
  ready: Promise<void>;
  /** Starts the loop, kills the child with SIGKILL `delayMs` after its first renewal, resolves with everything it printed. */
  runAndKill(delayMs: number): Promise<string>;
  kill(): void;
}

/** A child that has loaded the module and waits on stdin; loading takes seconds on a busy machine, so it is done ahead. */
function spawnWarm(args: string): WarmChild {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./renew-loop.child.ts', import.meta.url)), args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready\n')) resolve();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then(() => reject(new Error(`child exited before it was ready: ${output}`)));
  });
  ready.catch(() => undefined);
  return {
    ready,
    async runAndKill(delayMs) {
      await ready;
      // The first order of a fresh process is slow (lazy loading); kills land in the warm ones after it.
      const firstRenewal = new Promise<void>((resolve) => {
        const onData = () => {
          if (/\n(success|failure)/.test(output)) {
            child.stdout.off('data', onData);
            resolve();
          }
        };
        child.stdout.on('data', onData);
      });
      child.stdin.write('go\n');
      await Promise.race([firstRenewal, exited]);
      await sleep(delayMs);
      child.kill('SIGKILL');
      await exited;
      return output;
    },
    kill: () => child.kill('SIGKILL'),
  };
}

test(`kill -9 at random points during renewals (${MIN_ITERATIONS}-${ITERATIONS} runs): live/<name>/ always holds a matching key and certificate`, async (t) => {
  const dir = path.join(tmp.path, 'certs');
  const stateDir = path.join(tmp.path, 'state');
  await mkdir(stateDir);
  const section = {
    dir,
    acme: { directory: pebble.directoryUrl, email: 'ops@example.com', caBundle: pebble.ca, requestTimeout: '5s' },
    renewCheckInterval: '1h',
    certs: [{ name: 'crash', domains: ['crash.example.com'], challenge: { type: 'http-01', standalone: { address: '127.0.0.1', port: pebble.httpPort } } }],
  };
  const first = await createManager(pebbleConfig(pebble, dir, section.certs), {}, { stateDir });
  assert.equal((await first.manager.renew('crash')).result, 'success');
  await first.dispose();

  const args = JSON.stringify({ section, stateDir });
  const serials = new Set<string>();
  let renewals = 0;
  const warm = [spawnWarm(args)];
  const started = Date.now();
  let iterations = 0;
  for (let i = 0; i < ITERATIONS && (i < MIN_ITERATIONS || Date.now() - started < TIME_BUDGET_MS); i++) {
    iterations++;
    const current = warm.shift()!;
    if (i + warm.length < ITERATIONS) warm.push(spawnWarm(args));
    const output = await current.runAndKill(Math.floor(Math.random() * KILL_WINDOW_MS));
    renewals += output.split('\n').filter((line) => line === 'success').length;
    assert.doesNotMatch(output, /^failure/m, output);
    const match = await liveSetMatches(dir, 'crash');
    assert.equal(match.ok, true, `after kill ${i + 1}: key and certificate differ`);
    serials.add(match.serial);
  }
  for (const child of warm) child.kill();
  t.diagnostic(`${iterations} kills, ${renewals} renewals completed, ${serials.size} distinct live serials seen`);
  assert.ok(renewals >= iterations, `only ${renewals} renewals completed in ${iterations} runs`);
  assert.ok(serials.size > 1, 'renewals reached the live directory');
  // Crash leftovers do not pile up: at most the live version, its predecessor and one half-written one.
  assert.ok((await readdir(path.join(dir, 'archive', 'crash'))).length <= 3);
  assert.deepEqual((await readdir(path.join(dir, 'live'))).filter((e) => e.startsWith('.')).length <= 1, true);
});
