// /metrics of the agent against node_exporter, measured in the same run on the same machine, both with
// host metrics freshly read, then the agent's idle CPU and memory.
// Usage: node --import tsx bench/metrics/run.ts [--config caretaker.yaml] [--duration 10] [--fresh 100] [--idle 60] [--env NAME=VALUE ...] [--node PATH] [--cpu-prof DIR]
//   --config   an agent config (its listeners and stateDir are replaced); by default examples/full.yaml
//              with every module on, pointed at temp dirs and a dead port (test/metrics/all-modules.ts).
//   --fresh    requests per target spaced past the agent's one-second render cache (at most 300).
//   --node     the node binary that runs the agent (default: the one running the bench), e.g. a Node 18.
//   --cpu-prof the agent writes a V8 CPU profile of the whole run into DIR (where a render's time goes).
// Builds the production bundle into a temp dir (the shared dist/ is left to the tests that run from it) and
// runs it with the Environment= lines of systemd/caretaker.service (NODE_OPTIONS...), as installed; --env
// adds or overrides one, to try a setting before the unit has it.
// Two different loads, because the agent keeps one rendering for a second and node_exporter keeps none:
//   cached: wrk, 10 connections (several Prometheus servers at once); nearly every agent answer is that
//           rendering, every node_exporter answer a full collection. Plain GETs, then Prometheus's headers.
//   fresh:  one request at a time, 1.15 s apart, alternating between the two, with Prometheus's headers: every
//           agent answer is a new render, as one Prometheus scraping every 15-60 s always gets. Equal work.
// The agent reads /proc every second (metrics.hostInterval: 1s) during both, so its host figures are as
// fresh as node_exporter's; for the idle phase it is reloaded (SIGHUP) back to the default interval.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { freePort, waitForPort } from '../../test/harness/ports.js';
import { allModulesConfig } from '../../test/metrics/all-modules.js';
import { describeMemory, memoryOf } from '../proc-memory.js';
import { get, percentile } from '../probes/scrape.js';
import { requirePackages } from '../require-packages.js';
import { agentEnvironment, describeEnvironment } from '../unit-env.mjs';
import { fileURLToPath } from 'node:url';

const { values: flags } = parseArgs({
  options: {
    config: { type: 'string' },
    duration: { type: 'string', default: '10' },
    fresh: { type: 'string', default: '100' },
    idle: { type: 'string', default: '60' },
    env: { type: 'string', multiple: true, default: [] },
    node: { type: 'string', default: process.execPath },
    'cpu-prof': { type: 'string' },
  },
});
const nodeVersion = execFileSync(flags.node, ['--version'], { encoding: 'utf8' }).trim();
const durationS = Math.min(60, Number(flags.duration));
const freshCount = Math.max(0, Math.min(300, Number(flags.fresh)));
const idleS = Math.min(300, Number(flags.idle));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// Past the agent's one-second render cache, and not a whole second, so no request meets a refresh on cue.
const FRESH_SPACING_MS = 1150;

// Bounded: whatever hangs, the process exits (the finally below is skipped, the children die with the session).
const deadlineS = 4 * durationS + (freshCount * FRESH_SPACING_MS) / 1000 + idleS + 300;
setTimeout(() => {
  console.error(`bench/metrics: still running after ${deadlineS.toFixed(0)}s; giving up`);
  process.exit(3);
}, deadlineS * 1000).unref();

function build(outdir: string): string {
  execFileSync(process.execPath, ['scripts/build.mjs', outdir], { cwd: ROOT, stdio: 'pipe' });
  const bundle = path.join(outdir, 'caretaker.mjs');
  if (!existsSync(bundle)) throw new Error(`build produced no ${bundle}`);
  return bundle;
}

const PROMETHEUS_HEADERS: Record<string, string> = {
  Accept: 'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
  'Accept-Encoding': 'gzip',
};

interface Latency {
  p50Ms: number;
  p99Ms: number;
  /** Requests per second under wrk; the largest latency for the fresh requests. */
  rps?: number;
  maxMs?: number;
  /** CPU the process used per request over the fresh requests (its background work included). */
  cpuMsPerRequest?: number;
}

function toMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!match) throw new Error(`unexpected wrk latency ${text}`);
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

function wrk(url: string, headers: Record<string, string> = {}): Latency {
  const headerArgs = Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]);
  const out = execFileSync('wrk', ['-t2', '-c10', `-d${durationS}s`, '--timeout', '5s', '--latency', ...headerArgs, url], {
    encoding: 'utf8',
    timeout: (durationS + 30) * 1000,
  });
  // wrk pads a latency in seconds ("1.07s ") with a space.
  const p50 = /^\s+50%\s+(\S+)\s*$/m.exec(out)?.[1];
  const p99 = /^\s+99%\s+(\S+)\s*$/m.exec(out)?.[1];
  const rps = /^Requests\/sec:\s+([\d.]+)$/m.exec(out)?.[1];
  if (!p50 || !p99 || !rps) throw new Error(`could not read wrk output:\n${out}`);
  if (/Non-2xx/.test(out)) throw new Error(`wrk saw errors:\n${out}`);
  return { p50Ms: toMs(p50), p99Ms: toMs(p99), rps: Number(rps) };
}

/** utime + stime of a process in ms (USER_HZ 100). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * `count` requests to each target, one at a time, FRESH_SPACING_MS apart per target and the targets half a
 * spacing apart, so neither request competes with the other for the two cores.
 */
async function fresh(targets: Array<{ url: string; pid: number }>, count: number): Promise<Latency[]> {
  const latencies = targets.map(() => [] as number[]);
  const cpuStart = targets.map((t) => cpuMs(t.pid));
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    for (const [index, target] of targets.entries()) {
      const at = start + i * FRESH_SPACING_MS + (index * FRESH_SPACING_MS) / targets.length;
      await sleep(Math.max(0, at - performance.now()));
      const response = await get(target.url, 10_000, PROMETHEUS_HEADERS);
      if (response.status !== 200) throw new Error(`${target.url} answered ${response.status}`);
      latencies[index]!.push(response.ms);
    }
  }
  return targets.map((target, index) => ({
    p50Ms: percentile(latencies[index]!, 50),
    p99Ms: percentile(latencies[index]!, 99),
    maxMs: Math.max(...latencies[index]!),
    cpuMsPerRequest: (cpuMs(target.pid) - cpuStart[index]!) / count,
  }));
}

async function waitForMetrics(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(url).then((r) => r.ok && r.text().then((t) => t.includes('node_load1'))).catch(() => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${url} never served host metrics`);
}

/** Rewrites the config and sends SIGHUP; resolves once /status shows a newer accepted reload. */
async function reload(pid: number, configPath: string, config: unknown, adminUrl: string): Promise<void> {
  const lastReload = async () => ((await (await fetch(`${adminUrl}/status`)).json()) as { lastReload: { ok: boolean; at: string } }).lastReload;
  const before = (await lastReload()).at;
  await writeFile(configPath, stringify(config));
  process.kill(pid, 'SIGHUP');
  for (let i = 0; i < 100; i++) {
    await sleep(100);
    const last = await lastReload();
    if (last.at !== before) {
      if (!last.ok) throw new Error('the agent refused the idle config');
      return;
    }
  }
  throw new Error('the agent did not reload within 10 s');
}

requirePackages({ 'prometheus-node-exporter': 'prometheus-node-exporter', wrk: 'wrk' });
const loadAtStart = os.loadavg().map((l) => l.toFixed(2)).join(' ');
const work = await mkdtemp(path.join(os.tmpdir(), 'caretaker-bench-metrics-'));
const main = build(path.join(work, 'dist'));
const children: number[] = [];
try {
  const agentPort = await freePort();
  const config = parse(flags.config ? readFileSync(flags.config, 'utf8') : await allModulesConfig(work)) as Record<string, Record<string, unknown>>;
  config.agent = { ...config.agent, stateDir: path.join(work, 'state'), logLevel: 'warn' };
  const adminPort = await freePort();
  config.admin = { ...config.admin, listen: `127.0.0.1:${adminPort}` };
  const idleMetrics = { ...config.metrics, listen: `127.0.0.1:${agentPort}`, host: true };
  config.metrics = { ...idleMetrics, hostInterval: '1s' };
  const configPath = path.join(work, 'caretaker.yaml');
  await writeFile(configPath, stringify(config));

  const profileDir = flags['cpu-prof'] ? path.resolve(flags['cpu-prof']) : undefined;
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const profileArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const agent = spawn(flags.node, [...profileArgs, main, 'run', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'], env: agentEnvironment(flags.env) });
  children.push(agent.pid!);
  const nePort = await freePort();
  const nodeExporter = spawn('prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${nePort}`], { stdio: 'ignore' });
  children.push(nodeExporter.pid!);
  const agentUrl = `http://127.0.0.1:${agentPort}/metrics`;
  const neUrl = `http://127.0.0.1:${nePort}/metrics`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitForPort(nePort);
  await waitForMetrics(agentUrl);
  await sleep(5_000);
  const modules = ((await (await fetch(`${adminUrl}/status`)).json()) as { modules: Array<{ name: string; state: string }> }).modules;
  const beforeLoad = memoryOf(agent.pid!);

  const seriesOf = async (url: string) => (await (await fetch(url)).text()).split('\n').filter((l) => l && !l.startsWith('#')).length;
  const agentSeries = await seriesOf(agentUrl);
  const neSeries = await seriesOf(neUrl);

  const theirs = wrk(neUrl);
  const ours = wrk(agentUrl);
  const theirsScrape = wrk(neUrl, PROMETHEUS_HEADERS);
  const oursScrape = wrk(agentUrl, PROMETHEUS_HEADERS);
  const [oursFresh, theirsFresh] = freshCount > 0 ? await fresh([{ url: agentUrl, pid: agent.pid! }, { url: neUrl, pid: nodeExporter.pid! }], freshCount) : [];
  const afterLoad = memoryOf(agent.pid!);

  // Idle: no scrapes, only the background host refresh, back at its default interval.
  await reload(agent.pid!, configPath, { ...config, metrics: idleMetrics }, adminUrl);
  await sleep(2_000);
  const idleStart = cpuMs(agent.pid!);
  await sleep(idleS * 1000);
  const idlePercent = ((cpuMs(agent.pid!) - idleStart) / (idleS * 1000)) * 100;
  const idleEnd = memoryOf(agent.pid!);

  const row = (name: string, request: string, r: Latency, series: number) =>
    `| ${name} | ${request} | ${series} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.rps?.toFixed(0) ?? '-'} | ${r.maxMs?.toFixed(2) ?? '-'} | ${r.cpuMsPerRequest?.toFixed(2) ?? '-'} |`;
  const ne = 'node_exporter (Debian, default collectors)';
  console.log(`load average at start: ${loadAtStart} (${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? 'unknown'}; shared with other work)`);
  console.log(`modules: ${modules.map((m) => `${m.name}=${m.state}`).join(', ') || 'none'}`);
  console.log(`caretaker on node ${nodeVersion} (${flags.node})${profileDir ? `, CPU profile in ${profileDir}` : ''}`);
  console.log(`caretaker environment: ${describeEnvironment(flags.env) || 'none'} (systemd/caretaker.service${flags.env.length ? ' plus --env' : ''})`);
  console.log(`cached: wrk -t2 -c10 -d${durationS}s --latency; fresh: ${freshCount} requests per target ${FRESH_SPACING_MS} ms apart, alternating, Prometheus headers; loopback; caretaker metrics.hostInterval 1s`);
  console.log('| target | load | series | p50 ms | p99 ms | req/s | max ms | CPU ms/request |');
  console.log('|---|---|---|---|---|---|---|---|');
  console.log(row('caretaker /metrics', 'cached: wrk, plain text', ours, agentSeries));
  console.log(row(ne, 'cached: wrk, plain text', theirs, neSeries));
  console.log(row('caretaker /metrics', 'cached: wrk, Prometheus scrape (OpenMetrics, gzip)', oursScrape, agentSeries));
  console.log(row(ne, 'cached: wrk, Prometheus scrape (OpenMetrics, gzip)', theirsScrape, neSeries));
  if (oursFresh && theirsFresh) {
    console.log(row('caretaker /metrics', 'fresh: every request a new render', oursFresh, agentSeries));
    console.log(row(ne, 'fresh: every request a new collection', theirsFresh, neSeries));
  }
  console.log(`cached p99 caretaker / node_exporter: ${(ours.p99Ms / theirs.p99Ms).toFixed(2)} plain, ${(oursScrape.p99Ms / theirsScrape.p99Ms).toFixed(2)} scrape (a cache hit against a collection: not equal work)`);
  if (oursFresh && theirsFresh) {
    const ratio = oursFresh.p99Ms / theirsFresh.p99Ms;
    console.log(`fresh p99 caretaker / node_exporter: ${ratio.toFixed(2)} (target <= 0.5: ${ratio <= 0.5 ? 'met' : 'NOT met'}); CPU per request ${(oursFresh.cpuMsPerRequest! / theirsFresh.cpuMsPerRequest!).toFixed(2)}x`);
  }
  console.log(`caretaker idle CPU over ${idleS}s: ${idlePercent.toFixed(3)}% of a core (target < 0.5%)`);
  console.log(`caretaker memory before load: ${describeMemory(beforeLoad)}; after load: ${describeMemory(afterLoad)}`);
  console.log(`caretaker memory after ${idleS}s idle: ${describeMemory(idleEnd)} (target RSS <= 80 MiB: ${idleEnd.rssKiB <= 80 * 1024 ? 'met' : 'NOT met'})`);
  console.log(`node_exporter memory after load: ${describeMemory(memoryOf(nodeExporter.pid!))}`);
} finally {
  for (const pid of children) {
    try {
      // SIGTERM lets the agent write its --cpu-prof profile on the way out.
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  if (flags['cpu-prof']) await sleep(3_000);
  await rm(work, { recursive: true, force: true });
}
