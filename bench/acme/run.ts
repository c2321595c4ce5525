// Issuance (wall time and CPU time) and renewal-check time: caretaker's certificates module vs certbot and
// lego (Debian), same pebble, same run.
//
//   node --import tsx bench/acme/run.ts [--issuances 5] [--va-sleep 3]
//
// Pebble sleeps before each of its three validation attempts (`PEBBLE_VA_SLEEPTIME`: a random whole number of
// seconds below --va-sleep), as a real CA takes a second or two to validate; with no sleep (the test
// suite's PEBBLE_VA_NOSLEEP) the wall times compare the clients' fixed polling intervals. The clients take
// turns, one issuance each per round, so a change in the machine's load hits all three alike.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { requirePackages } from '../require-packages.js';
import { startPebble } from '../../test/harness/pebble.js';
import { makeTempDir } from '../../test/harness/tmpdir.js';
import { createManager, pebbleConfig } from '../../test/modules/certificates/fixtures.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { issuances: { type: 'string', default: '5' }, 'va-sleep': { type: 'string', default: '3' } } });
const N = Number(values.issuances);
const vaSleep = Number(values['va-sleep']);
if (!(Number.isInteger(N) && N >= 1 && N <= 20)) throw new Error('--issuances: 1 to 20');
if (!(Number.isInteger(vaSleep) && vaSleep >= 0 && vaSleep <= 15)) throw new Error('--va-sleep: whole seconds, 0 (no sleep) to 15');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Sample {
  wallMs: number;
  cpuMs: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux
/** CPU time (user + sys) of the processes this one has waited for, from /proc/self/stat (cutime, cstime). */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

/** Wall and CPU time of work done in this process (and any child it waits for). */
async function inProcess(fn: () => Promise<unknown>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const children = childrenCpuMs();
  const t = performance.now();
  await fn();
  const wallMs = performance.now() - t;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 + childrenCpuMs() - children };
}

/**
 * Wall and CPU time of a command and every process under it: bash runs it and prints `times`, whose second
 * line is the user and system time of its waited-for children (the client and whatever it started).
 */
async function command(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Sample> {
  const t = performance.now();
  const { stdout } = await run('bash', ['-c', 'out=$("$@" 2>&1) || { printf "%s\\n" "$out" >&2; exit 1; }; times', 'bash', cmd, ...args], { env });
  const wallMs = performance.now() - t;
  const children = stdout.trim().split('\n').at(-1)!;
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  if (seconds.length !== 2) throw new Error(`${cmd}: unexpected times output: ${stdout}`);
  return { wallMs, cpuMs: (seconds[0]! + seconds[1]!) * 1000 };
}

requirePackages({ certbot: 'certbot', lego: 'lego' });
const startLoad = loadavg();
const pebble = await startPebble({ env: vaSleep > 0 ? { PEBBLE_VA_NOSLEEP: '0', PEBBLE_VA_SLEEPTIME: String(vaSleep) } : {} });
const tmp = await makeTempDir('bench-acme');
try {
  const env = { ...process.env, REQUESTS_CA_BUNDLE: pebble.ca, LEGO_CA_CERTIFICATES: pebble.ca };

  // caretaker, in process (the daemon is already running when it renews); the first order registers the account
  // and loads acme-client, and is left out as certbot's and lego's first runs are.
  const f = await createManager(
    pebbleConfig(pebble, path.join(tmp.path, 'caretaker'), [
      { name: 'bench', domains: ['bench.example.com'], challenge: { type: 'http-01', standalone: { address: '127.0.0.1', port: pebble.httpPort } } },
    ]),
  );
  const first = await inProcess(() => f.manager.renew('bench'));
  const caretakerIssue = () =>
    inProcess(async () => {
      const outcome = await f.manager.renew('bench');
      if (outcome.result !== 'success') throw new Error(outcome.certificate.lastError);
    });

  // certbot: standalone on the same port; first run registers.
  const cb = path.join(tmp.path, 'certbot');
  await mkdir(cb);
  const certbotArgs = ['--config-dir', cb, '--work-dir', cb, '--logs-dir', cb, '--non-interactive'];
  const certbotIssue = (extra: string[]) =>
    command('certbot', ['certonly', ...certbotArgs, '--agree-tos', '-m', 'ops@example.com', '--server', pebble.directoryUrl, '--standalone', '--http-01-address', '127.0.0.1', '--http-01-port', String(pebble.httpPort), '--key-type', 'ecdsa', '-d', 'bench.example.com', '--cert-name', 'bench', ...extra], env);
  await certbotIssue([]);

  // lego: built-in HTTP server on the same port; `run` registers and issues, `renew --days 100000` always renews.
  const lp = path.join(tmp.path, 'lego');
  const legoArgs = ['--accept-tos', '--email', 'ops@example.com', '--server', pebble.directoryUrl, '--http', '--http.port', `127.0.0.1:${pebble.httpPort}`, '--domains', 'bench.example.com', '--path', lp, '--key-type', 'ec256'];
  await command('lego', [...legoArgs, 'run'], env);
  const legoIssue = () => command('lego', [...legoArgs, 'renew', '--days', '100000', '--no-random-sleep'], env);

  const samples = { caretaker: [] as Sample[], certbot: [] as Sample[], lego: [] as Sample[] };
  for (let i = 0; i < N; i++) {
    console.error(`round ${i + 1} of ${N}`);
    samples.caretaker.push(await caretakerIssue());
    samples.certbot.push(await certbotIssue(['--force-renewal']));
    samples.lego.push(await legoIssue());
  }

  await f.manager.start();
  await f.manager.check();
  const CHECKS = 1000;
  const checkMs = (await inProcess(async () => {
    for (let i = 0; i < CHECKS; i++) await f.manager.check();
  })).wallMs / CHECKS;
  await f.dispose();
  const certbotCheck = (await command('certbot', ['renew', ...certbotArgs], env)).wallMs;
  const legoCheck = (await command('lego', [...legoArgs, 'renew', '--days', '1', '--no-random-sleep'], env)).wallMs;

  const wall = (xs: Sample[]) => median(xs.map((s) => s.wallMs));
  const cpu = (xs: Sample[]) => median(xs.map((s) => s.cpuMs));
  const [aWall, aCpu, cWall, cCpu, lWall, lCpu] = [wall(samples.caretaker), cpu(samples.caretaker), wall(samples.certbot), cpu(samples.certbot), wall(samples.lego), cpu(samples.lego)];
  const rows = [
    ['caretaker (in process)', samples.caretaker, checkMs],
    ['certbot 2.1 (Debian)', samples.certbot, certbotCheck],
    ['lego 4.9 (Debian)', samples.lego, legoCheck],
  ] as const;
  console.log(`issuance: median of ${N} orders each, clients taking turns (1 name, ECDSA P-256, new key, http-01 standalone) on pebble with PEBBLE_VA_SLEEPTIME=${vaSleep} (0-${Math.max(0, vaSleep - 1)} s before each validation attempt)${vaSleep === 0 ? ' [no sleep]' : ''}`);
  console.log(`CPU = user + sys of the client's process and its children; renewal check: nothing due`);
  for (const [name, xs, check] of rows) {
    console.log(
      `${name.padEnd(24)} issuance wall ${wall(xs).toFixed(0).padStart(6)} ms  CPU ${cpu(xs).toFixed(0).padStart(5)} ms  (each: ${xs.map((s) => s.cpuMs.toFixed(0)).join(' ')})   renewal check ${check.toFixed(3).padStart(10)} ms`,
    );
  }
  console.log(`caretaker's first order (registers the account, loads acme-client): wall ${first.wallMs.toFixed(0)} ms, CPU ${first.cpuMs.toFixed(0)} ms`);
  console.log(`ratio caretaker/certbot: CPU ${(aCpu / cCpu).toFixed(3)}x (target <= 0.5x), wall ${(aWall / cWall).toFixed(3)}x; caretaker/lego: CPU ${(aCpu / lCpu).toFixed(3)}x, wall ${(aWall / lWall).toFixed(3)}x`);
  console.log(`renewal check in process: ${checkMs.toFixed(4)} ms (target <= 2 ms); certbot renew: ${certbotCheck.toFixed(0)} ms; lego renew: ${legoCheck.toFixed(0)} ms`);
  console.log(`load average at the start ${startLoad.map((l) => l.toFixed(2)).join(', ')}, at the end ${loadavg().map((l) => l.toFixed(2)).join(', ')} (2 CPUs shared with other work)`);
} finally {
  await pebble.stop();
  await tmp.cleanup();
}
