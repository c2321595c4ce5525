// /metrics of the agent against node_exporter, measured in the same run on the same machine:
// wrk latency (p50/p99) and requests/s, then the agent's idle CPU and RSS.
// Usage: node --import tsx bench/metrics/run.ts [--config caretaker.yaml] [--duration 10] [--idle 60] [--env NAME=VALUE ...] [--node PATH]
//   --config   an agent config (its listeners and stateDir are replaced); by default examples/full.yaml
//              with every module on, pointed at temp dirs and a dead port (test/metrics/all-modules.ts).
//   --node     the node binary that runs the agent (default: the one running the bench), e.g. a Node 18.
// Builds the production bundle into a temp dir (the shared dist/ is left to the tests that run from it) and
// runs it with the Environment= lines of systemd/caretaker.service (NODE_OPTIONS...), as installed; --env
// adds or overrides one, to try a setting before the unit has it.
// Each target is loaded twice: plain GETs, then with Prometheus 2.x's scrape headers (OpenMetrics, gzip).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { freePort, waitForPort } from '../../test/harness/ports.js';
import { allModulesConfig } from '../../test/metrics/all-modules.js';
import { requirePackages } from '../require-packages.js';
import { agentEnvironment, describeEnvironment } from '../unit-env.mjs';
import { fileURLToPath } from 'node:url';

const { values: flags } = parseArgs({
  options: {
    config: { type: 'string' },
    duration: { type: 'string', default: '10' },
    idle: { type: 'string', default: '60' },
    env: { type: 'string', multiple: true, default: [] },
    node: { type: 'string', default: process.execPath },
  },
});
const nodeVersion = execFileSync(flags.node, ['--version'], { encoding: 'utf8' }).trim();
const durationS = Math.min(60, Number(flags.duration));
const idleS = Math.min(300, Number(flags.idle));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function build(outdir: string): string {
  execFileSync(process.execPath, ['scripts/build.mjs', outdir], { cwd: ROOT, stdio: 'pipe' });
  const bundle = path.join(outdir, 'caretaker.mjs');
  if (!existsSync(bundle)) throw new Error(`build produced no ${bundle}`);
  return bundle;
}

const PROMETHEUS_HEADERS = [
  '-H', 'Accept: application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
  '-H', 'Accept-Encoding: gzip',
];

interface WrkResult {
  p50Ms: number;
  p99Ms: number;
  rps: number;
}

function toMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!match) throw new Error(`unexpected wrk latency ${text}`);
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

function wrk(url: string, headers: string[] = []): WrkResult {
  const out = execFileSync('wrk', ['-t2', '-c10', `-d${durationS}s`, '--timeout', '5s', '--latency', ...headers, url], {
    encoding: 'utf8',
    timeout: (durationS + 30) * 1000,
  });
  const p50 = /^\s+50%\s+(\S+)$/m.exec(out)?.[1];
  const p99 = /^\s+99%\s+(\S+)$/m.exec(out)?.[1];
  const rps = /^Requests\/sec:\s+([\d.]+)$/m.exec(out)?.[1];
  if (!p50 || !p99 || !rps) throw new Error(`could not read wrk output:\n${out}`);
  if (/Non-2xx/.test(out)) throw new Error(`wrk saw errors:\n${out}`);
  return { p50Ms: toMs(p50), p99Ms: toMs(p99), rps: Number(rps) };
}

/** utime + stime of a process in ms (USER_HZ 100), and its RSS in MiB. */
function usage(pid: number): { cpuMs: number; rssMiB: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return { cpuMs: (Number(fields[11]) + Number(fields[12])) * 10, rssMiB: rssKiB / 1024 };
}

async function waitForMetrics(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(url).then((r) => r.ok && r.text().then((t) => t.includes('node_load1'))).catch(() => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${url} never served host metrics`);
}

requirePackages({ 'prometheus-node-exporter': 'prometheus-node-exporter', wrk: 'wrk' });
const work = await mkdtemp(path.join(os.tmpdir(), 'caretaker-bench-metrics-'));
const main = build(path.join(work, 'dist'));
const children: number[] = [];
try {
  const agentPort = await freePort();
  const config = parse(flags.config ? readFileSync(flags.config, 'utf8') : await allModulesConfig(work)) as Record<string, Record<string, unknown>>;
  config.agent = { ...config.agent, stateDir: path.join(work, 'state'), logLevel: 'warn' };
  const adminPort = await freePort();
  config.admin = { ...config.admin, listen: `127.0.0.1:${adminPort}` };
  config.metrics = { ...config.metrics, listen: `127.0.0.1:${agentPort}`, host: true };
  const configPath = path.join(work, 'caretaker.yaml');
  await writeFile(configPath, stringify(config));

  const agent = spawn(flags.node, [main, 'run', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'], env: agentEnvironment(flags.env) });
  children.push(agent.pid!);
  const nePort = await freePort();
  const nodeExporter = spawn('prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${nePort}`], { stdio: 'ignore' });
  children.push(nodeExporter.pid!);
  const agentUrl = `http://127.0.0.1:${agentPort}/metrics`;
  const neUrl = `http://127.0.0.1:${nePort}/metrics`;
  await waitForPort(nePort);
  await waitForMetrics(agentUrl);
  await sleep(5_000);
  const modules = ((await (await fetch(`http://127.0.0.1:${adminPort}/status`)).json()) as { modules: Array<{ name: string; state: string }> }).modules;
  const beforeLoad = usage(agent.pid!);

  const seriesOf = async (url: string) => (await (await fetch(url)).text()).split('\n').filter((l) => l && !l.startsWith('#')).length;
  const agentSeries = await seriesOf(agentUrl);
  const neSeries = await seriesOf(neUrl);

  const theirs = wrk(neUrl);
  const ours = wrk(agentUrl);
  const theirsScrape = wrk(neUrl, PROMETHEUS_HEADERS);
  const oursScrape = wrk(agentUrl, PROMETHEUS_HEADERS);
  const afterLoad = usage(agent.pid!);

  // Idle: no scrapes, only the background host refresh (every 15s by default).
  await sleep(2_000);
  const idleStart = usage(agent.pid!);
  await sleep(idleS * 1000);
  const idleEnd = usage(agent.pid!);
  const idlePercent = ((idleEnd.cpuMs - idleStart.cpuMs) / (idleS * 1000)) * 100;

  const row = (name: string, request: string, r: WrkResult, series: number) =>
    `| ${name} | ${request} | ${series} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.rps.toFixed(0)} |`;
  console.log(`modules: ${modules.map((m) => `${m.name}=${m.state}`).join(', ') || 'none'}`);
  console.log(`caretaker on node ${nodeVersion} (${flags.node})`);
  console.log(`caretaker environment: ${describeEnvironment(flags.env) || 'none'} (systemd/caretaker.service${flags.env.length ? ' plus --env' : ''})`);
  console.log(`wrk -t2 -c10 -d${durationS}s --latency, loopback, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'})`);
  console.log('| target | request | series | p50 ms | p99 ms | req/s |');
  console.log('|---|---|---|---|---|---|');
  console.log(row('caretaker /metrics', 'plain text', ours, agentSeries));
  console.log(row('node_exporter (Debian, default collectors)', 'plain text', theirs, neSeries));
  console.log(row('caretaker /metrics', 'Prometheus scrape (OpenMetrics, gzip)', oursScrape, agentSeries));
  console.log(row('node_exporter (Debian, default collectors)', 'Prometheus scrape (OpenMetrics, gzip)', theirsScrape, neSeries));
  console.log(`p99 caretaker / node_exporter: ${(ours.p99Ms / theirs.p99Ms).toFixed(2)} plain, ${(oursScrape.p99Ms / theirsScrape.p99Ms).toFixed(2)} scrape (target <= 1)`);
  console.log(`req/s caretaker / node_exporter: ${(ours.rps / theirs.rps).toFixed(2)} plain, ${(oursScrape.rps / theirsScrape.rps).toFixed(2)} scrape`);
  console.log(`caretaker idle CPU over ${idleS}s: ${idlePercent.toFixed(3)}% of a core (target < 0.5%)`);
  console.log(`caretaker RSS: ${beforeLoad.rssMiB.toFixed(1)} MiB before load, ${afterLoad.rssMiB.toFixed(1)} MiB after load, ${idleEnd.rssMiB.toFixed(1)} MiB after idle (target <= 80 MiB)`);
  console.log(`node_exporter RSS after load: ${usage(nodeExporter.pid!).rssMiB.toFixed(1)} MiB`);
} finally {
  for (const pid of children) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  await rm(work, { recursive: true, force: true });
}
