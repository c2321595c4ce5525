// 50 probes at 1 s intervals (redis, postgres, http, tcp) run by the agent, against the same checks done by
// Debian's redis_exporter + postgres_exporter + blackbox_exporter scraped once a second per probe, as
// Prometheus would. Same servers, same duration, one run: CPU (utime+stime, children included) and memory
// (RSS, PSS and anon from /proc/PID/smaps_rollup) of the agent against the three exporters together, and the
// agent's /metrics latency. Equal work: the agent's redis probes PING and INFO (no write round trip), and
// each exporter runs only the collectors those checks match (bench/probes/exporters.ts).
//
//   node --import tsx bench/probes/run.ts [--duration 60] [--probes 50] [--warmup 5] [--exporters-first]
//                                         [--env NAME=VALUE ...] [--agent-node-flags='--max-semi-space-size=1']
//
// The agent runs with the Environment= lines of systemd/caretaker.service (NODE_OPTIONS...), as installed.
// --env adds or overrides one (e.g. --env 'NODE_OPTIONS=--max-semi-space-size=2 --max-old-space-size=128'),
// to try a setting before the unit has it; --agent-node-flags puts flags on the agent's command line (V8
// flags that NODE_OPTIONS does not accept, such as --optimize-for-size).
// The agent is also run for a few seconds with no probes first, so its RSS can be split into the agent's
// floor and what the probes add.
// Needs redis-server, postgresql and prometheus-{redis,postgres,blackbox}-exporter (Debian packages).
// The agent is the production bundle, built into a temp dir (dist/ is left alone) and run as its own process.
import { execFileSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { canConnect, freePort } from '../../test/harness/ports.js';
import { startPostgres, type PostgresServer } from '../../test/harness/postgres.js';
import { startServerProcess, type ServerProcess } from '../../test/harness/process.js';
import { startRedis, type RedisServer } from '../../test/harness/redis.js';
import { makeTempDir } from '../../test/harness/tmpdir.js';
import { requireExporters, startExporters, stopExporters, type Exporters } from './exporters.js';
import { usageOf, type Usage } from './proc-usage.js';
import { addMemory, memoryOf, mib, NO_MEMORY, type Memory } from '../proc-memory.js';
import { everySecond, get, percentile, type Tally } from './scrape.js';
import { HEALTH_BODY_MATCH, startTargets, type Targets } from './targets.js';
import { agentEnvironment, describeEnvironment } from '../unit-env.mjs';
import { fileURLToPath } from 'node:url';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    probes: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '5' },
    'exporters-first': { type: 'boolean', default: false },
    'agent-node-flags': { type: 'string', default: '' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const durationS = Math.max(5, Math.min(600, Number(flags.duration)));
const probeCount = Math.max(4, Math.min(200, Number(flags.probes)));
const warmupS = Math.max(0, Math.min(60, Number(flags.warmup)));
const agentNodeFlags = flags['agent-node-flags'].split(' ').filter(Boolean);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KINDS = ['redis', 'postgres', 'http', 'tcp'] as const;
type Kind = (typeof KINDS)[number];
const kindOf = (i: number): Kind => KINDS[i % KINDS.length]!;
/** Checks spread evenly over each second, as Prometheus spreads its targets. */
const offsetOf = (i: number) => Math.floor((i * 1000) / probeCount);

// Bounded: whatever hangs, the process exits and the harness's exit hooks kill every server it started.
const deadlineS = 2 * (durationS + warmupS) + 240;
setTimeout(() => {
  console.error(`bench/probes: still running after ${deadlineS}s; giving up`);
  process.exit(3);
}, deadlineS * 1000).unref();

interface Servers {
  redis: RedisServer;
  postgres: PostgresServer;
  targets: Targets;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const meanMemory = (samples: Memory[]): Memory => ({
  rssKiB: mean(samples.map((m) => m.rssKiB)),
  pssKiB: mean(samples.map((m) => m.pssKiB)),
  anonKiB: mean(samples.map((m) => m.anonKiB)),
});
const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

interface Sampled {
  /** Usage at the start and the end of the measured window, all processes together. */
  first: Usage;
  last: Usage;
  /** smaps_rollup of the processes together, once a second. */
  memory: Memory[];
  /** Each process over the window: CPU used and VmHWM at the end. */
  parts: Array<{ name: string; cpuMs: number; hwmKiB: number }>;
  serverCpuMs: number;
  loadBefore: string;
  loadAfter: string;
}

/** Waits for the window to start, then samples the named processes once a second until it ends. */
async function sample(processes: () => Record<string, number>, servers: Servers, windowStart: number, windowEnd: number): Promise<Sampled> {
  const pids = () => Object.values(processes());
  const serverPids = () => [servers.redis.pid, servers.postgres.pid];
  const each = () => Object.entries(processes()).map(([name, pid]) => ({ name, usage: usageOf([pid]) }));
  const memory = () => pids().map(memoryOf).reduce(addMemory, NO_MEMORY);
  await sleep(windowStart - Date.now());
  const loadBefore = loadAverage();
  const firstEach = each();
  const first = usageOf(pids());
  const serverFirst = usageOf(serverPids()).cpuMs;
  const samples = [memory()];
  for (let at = windowStart + 1000; at < windowEnd; at += 1000) {
    await sleep(Math.max(0, at - Date.now()));
    samples.push(memory());
  }
  await sleep(Math.max(0, windowEnd - Date.now()));
  const last = usageOf(pids());
  const parts = each().map(({ name, usage }, i) => ({ name, cpuMs: usage.cpuMs - firstEach[i]!.usage.cpuMs, hwmKiB: usage.hwmKiB }));
  samples.push(memory());
  return { first, last, memory: samples, parts, serverCpuMs: usageOf(serverPids()).cpuMs - serverFirst, loadBefore, loadAfter: loadAverage() };
}

function emptyTallies(): Record<Kind, Tally> {
  return Object.fromEntries(KINDS.map((k) => [k, { ok: 0, failed: 0, latenciesMs: [] }])) as unknown as Record<Kind, Tally>;
}

// ---- the agent -------------------------------------------------------------------------------------------

function buildBundle(dir: string): string {
  // scripts/build.mjs writes dist/caretaker.mjs under its working directory; a temp dir whose src links to
  // the checkout keeps the shared dist/ untouched (other engineers' tests run from it).
  symlinkSync(path.join(ROOT, 'src'), path.join(dir, 'src'));
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { cwd: dir, stdio: 'pipe' });
  const bundle = path.join(dir, 'dist/caretaker.mjs');
  if (!existsSync(bundle)) throw new Error(`build produced no ${bundle}`);
  return bundle;
}

function agentProbes(servers: Servers): Record<string, unknown>[] {
  return Array.from({ length: probeCount }, (_, i) => {
    const name = `${kindOf(i)}-${i}`;
    const common = { name, type: kindOf(i), interval: '1s', timeout: '1s' };
    switch (kindOf(i)) {
      case 'redis':
        // PING and INFO; redis_exporter's INFO ALL is the same work, a SET/GET/DEL would not be.
        return { ...common, url: servers.redis.url, roundTrip: false };
      case 'postgres':
        return { ...common, url: servers.postgres.url };
      case 'http':
        return { ...common, url: servers.targets.healthUrl, expectStatus: 200, bodyMatch: HEALTH_BODY_MATCH };
      case 'tcp':
        return { ...common, address: servers.targets.tcpAddress };
    }
  });
}

/** caretaker_probe_checks_total summed by kind and result. */
function checkCounts(metrics: string): Record<Kind, { success: number; failure: number }> {
  const counts = Object.fromEntries(KINDS.map((k) => [k, { success: 0, failure: 0 }])) as Record<Kind, { success: number; failure: number }>;
  for (const match of metrics.matchAll(/^caretaker_probe_checks_total\{([^}]*)\} (\S+)$/gm)) {
    const kind = /kind="(\w+)"/.exec(match[1]!)?.[1] as Kind | undefined;
    const result = /result="(\w+)"/.exec(match[1]!)?.[1] as 'success' | 'failure' | undefined;
    if (kind && result && counts[kind]) counts[kind][result] += Number(match[2]);
  }
  return counts;
}

interface PhaseResult {
  sampled: Sampled;
  tallies: Record<Kind, Tally>;
}

interface AgentResult extends PhaseResult {
  metricsLatency: Tally;
  metricsBytes: number;
  /** The agent's own V8 heap figures at the end of the window (prom-client default metrics). */
  heap: string;
}

/** Where the agent's memory is, from its own default metrics: V8 heap total/used and external memory. */
function heapSummary(metrics: string): string {
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN);
  const part = (label: string, name: string) => `${label} ${mib(value(name) / 1024)} MiB`;
  return [
    part('heap total', 'nodejs_heap_size_total_bytes'),
    part('heap used', 'nodejs_heap_size_used_bytes'),
    part('external', 'nodejs_external_memory_bytes'),
  ].join(', ');
}

async function startAgent(bundle: string, dir: string, probes: Record<string, unknown>[]) {
  const adminPort = await freePort();
  const metricsPort = await freePort();
  const configFile = path.join(dir, 'caretaker.yaml');
  await writeFile(
    configFile,
    stringify({
      agent: { stateDir: path.join(dir, 'state'), logLevel: 'warn' },
      admin: { listen: `127.0.0.1:${adminPort}` },
      // The exporters export no host metrics either.
      metrics: { listen: `127.0.0.1:${metricsPort}`, host: false },
      ...(probes.length > 0 ? { probes } : {}),
    }),
  );
  const process_: ServerProcess = await startServerProcess({
    name: 'caretaker',
    command: process.execPath,
    args: [...agentNodeFlags, bundle, 'run', '--config', configFile],
    env: agentEnvironment(flags.env),
    isReady: async () => (await canConnect(metricsPort)) && (await canConnect(adminPort)),
    stopTimeoutMs: 10_000,
  });
  return { process: process_, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, probesUrl: `http://127.0.0.1:${adminPort}/probes` };
}

/** RSS of the agent with no probes, after the same warm-up, averaged over 5 s (one /metrics scrape a second). */
async function agentFloor(bundle: string, dir: string): Promise<{ memory: Memory; cpuMs: number }> {
  const { process: agent, metricsUrl } = await startAgent(bundle, dir, []);
  try {
    await sleep(warmupS * 1000);
    const first = usageOf([agent.pid]);
    const samples: Memory[] = [];
    for (let i = 0; i < 5; i++) {
      await get(metricsUrl, 1000).catch(() => undefined);
      await sleep(1000);
      samples.push(memoryOf(agent.pid));
    }
    return { memory: meanMemory(samples), cpuMs: usageOf([agent.pid]).cpuMs - first.cpuMs };
  } finally {
    await agent.stop();
  }
}

async function runAgent(bundle: string, dir: string, servers: Servers): Promise<AgentResult> {
  const { process: agent, metricsUrl, probesUrl } = await startAgent(bundle, dir, agentProbes(servers));
  try {
    await waitAllUp(probesUrl, agent);
    const startMs = Date.now();
    const windowStart = startMs + warmupS * 1000;
    const windowEnd = windowStart + durationS * 1000;
    const metricsLatency: Tally = { ok: 0, failed: 0, latenciesMs: [] };
    let metricsBytes = 0;
    const scrapes = everySecond(
      async () => {
        const response = await get(metricsUrl, 1000);
        metricsBytes = response.body.length;
        return { ok: response.status === 200, ms: response.ms };
      },
      { startMs, offsetMs: 500, countFromMs: windowStart, endMs: windowEnd },
      metricsLatency,
    );
    let lastMetrics = '';
    const countsAt = async (at: number) => {
      await sleep(Math.max(0, at - Date.now()));
      lastMetrics = (await get(metricsUrl, 5000)).body;
      return checkCounts(lastMetrics);
    };
    const before = countsAt(windowStart);
    const sampled = await sample(() => ({ caretaker: agent.pid }), servers, windowStart, windowEnd);
    const after = await countsAt(windowEnd);
    await scrapes;
    const tallies = emptyTallies();
    const start = await before;
    for (const kind of KINDS) {
      tallies[kind].ok = after[kind].success - start[kind].success;
      tallies[kind].failed = after[kind].failure - start[kind].failure;
    }
    return { sampled, tallies, metricsLatency, metricsBytes, heap: heapSummary(lastMetrics) };
  } finally {
    await agent.stop();
  }
}

async function waitAllUp(probesUrl: string, agent: ServerProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  let statuses = '';
  while (Date.now() < deadline) {
    const response = await get(probesUrl, 2000).catch(() => undefined);
    if (response?.status === 200) {
      const probes = (JSON.parse(response.body) as { probes: Array<{ name: string; status: string }> }).probes;
      if (probes.length === probeCount && probes.every((p) => p.status === 'up')) return;
      statuses = probes.filter((p) => p.status !== 'up').map((p) => `${p.name}=${p.status}`).join(' ');
    }
    await sleep(200);
  }
  throw new Error(`not every probe came up within 30 s: ${statuses}\n${agent.output()}`);
}

// ---- the exporters ---------------------------------------------------------------------------------------

async function runExporters(dir: string, servers: Servers): Promise<PhaseResult> {
  const exporters: Exporters = await startExporters({
    dir,
    redisUrl: servers.redis.url,
    postgresUrl: servers.postgres.url,
    bodyMatch: HEALTH_BODY_MATCH,
    timeoutS: 1,
  });
  try {
    const base = (port: number) => `http://127.0.0.1:${port}`;
    const probe = (target: string, module: string) =>
      `${base(exporters.blackbox.port)}/probe?target=${encodeURIComponent(target)}&module=${module}`;
    // Each kind's request and what says its check passed.
    const checks: Record<Kind, { url: string; up: RegExp }> = {
      redis: { url: `${base(exporters.redis.port)}/metrics`, up: /^redis_up 1$/m },
      postgres: { url: `${base(exporters.postgres.port)}/metrics`, up: /^pg_up 1$/m },
      http: { url: probe(servers.targets.healthUrl, 'http_ok'), up: /^probe_success 1$/m },
      tcp: { url: probe(servers.targets.tcpAddress, 'tcp_connect'), up: /^probe_success 1$/m },
    };
    const startMs = Date.now();
    const windowStart = startMs + warmupS * 1000;
    const windowEnd = windowStart + durationS * 1000;
    const tallies = emptyTallies();
    const loops = Array.from({ length: probeCount }, (_, i) => {
      const check = checks[kindOf(i)];
      return everySecond(
        async () => {
          // Prometheus sends its scrape timeout; blackbox_exporter sizes its probe from it.
          const response = await get(check.url, 1000, { 'X-Prometheus-Scrape-Timeout-Seconds': '1' });
          return { ok: response.status === 200 && check.up.test(response.body), ms: response.ms };
        },
        { startMs, offsetMs: offsetOf(i), countFromMs: windowStart, endMs: windowEnd },
        tallies[kindOf(i)],
      );
    });
    const pids = () => ({
      redis_exporter: exporters.redis.process.pid,
      postgres_exporter: exporters.postgres.process.pid,
      blackbox_exporter: exporters.blackbox.process.pid,
    });
    const sampled = await sample(pids, servers, windowStart, windowEnd);
    await Promise.all(loops);
    return { sampled, tallies };
  } finally {
    await stopExporters(exporters);
  }
}

// ---- report ----------------------------------------------------------------------------------------------


function report(agent: AgentResult, exporters: PhaseResult, floor: { memory: Memory; cpuMs: number }, order: string): void {
  const cpu = (r: PhaseResult) => r.sampled.last.cpuMs - r.sampled.first.cpuMs;
  const average = (r: PhaseResult) => meanMemory(r.sampled.memory);
  const peak = (r: PhaseResult, key: keyof Memory) => Math.max(...r.sampled.memory.map((m) => m[key]));
  const checks = (r: PhaseResult) =>
    KINDS.map((k) => `${k} ${r.tallies[k].ok}/${r.tallies[k].ok + r.tallies[k].failed}`).join(', ');
  const row = (what: string, a: number, e: number, fmt: (n: number) => string) =>
    console.log(`| ${what} | ${fmt(a)} | ${fmt(e)} | ${(a / e).toFixed(2)} |`);
  const seconds = (ms: number) => (ms / 1000).toFixed(2);
  const percent = (ms: number) => ((ms / (durationS * 1000)) * 100).toFixed(2);

  console.log(`\n${probeCount} probes (${KINDS.map((k) => `${probeCountOf(k)} ${k}`).join(', ')}) at 1 s, ${durationS} s measured after ${warmupS} s warm-up; order: ${order}`);
  console.log(`${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`);
  console.log(`caretaker environment: ${describeEnvironment(flags.env) || 'none'} (systemd/caretaker.service${flags.env.length ? ' plus --env' : ''})${agentNodeFlags.length ? `; node flags: ${agentNodeFlags.join(' ')}` : ''}`);
  console.log(`load average (1 5 15 min): agent phase ${agent.sampled.loadBefore} -> ${agent.sampled.loadAfter}; exporters phase ${exporters.sampled.loadBefore} -> ${exporters.sampled.loadAfter}`);
  console.log('\n| measure | caretaker | 3 exporters | caretaker / exporters |');
  console.log('|---|---|---|---|');
  row(`CPU seconds over ${durationS} s`, cpu(agent), cpu(exporters), seconds);
  row('CPU, % of one core', cpu(agent), cpu(exporters), percent);
  row('RSS average, MiB', average(agent).rssKiB, average(exporters).rssKiB, mib);
  row('PSS average, MiB', average(agent).pssKiB, average(exporters).pssKiB, mib);
  row('anon average, MiB', average(agent).anonKiB, average(exporters).anonKiB, mib);
  row('anon peak sampled, MiB', peak(agent, 'anonKiB'), peak(exporters, 'anonKiB'), mib);
  row('VmHWM (sum), MiB', agent.sampled.last.hwmKiB, exporters.sampled.last.hwmKiB, mib);
  row('server CPU (redis-server + postgres), s', agent.sampled.serverCpuMs, exporters.sampled.serverCpuMs, seconds);
  console.log(`\nchecks passed/done in the window: caretaker ${checks(agent)}; exporters ${checks(exporters)}`);
  console.log('per process (CPU s in window, VmHWM MiB): ' + [...agent.sampled.parts, ...exporters.sampled.parts].map((p) => `${p.name} ${seconds(p.cpuMs)} s ${mib(p.hwmKiB)} MiB`).join('; '));
  console.log(
    `caretaker with no probes (same bundle and flags${agentNodeFlags.length ? ` ${agentNodeFlags.join(' ')}` : ''}): RSS ${mib(floor.memory.rssKiB)} / PSS ${mib(floor.memory.pssKiB)} / anon ${mib(floor.memory.anonKiB)} MiB, so the ${probeCount} probes add ${mib(average(agent).anonKiB - floor.memory.anonKiB)} MiB anon (with probes, at the end: ${agent.heap}); CPU ${((floor.cpuMs / 5000) * 100).toFixed(2)} % of a core`,
  );
  const lat = agent.metricsLatency.latenciesMs;
  console.log(
    `caretaker /metrics (${(agent.metricsBytes / 1024).toFixed(0)} KiB, ${lat.length} requests, 1/s): p50 ${percentile(lat, 50).toFixed(2)} ms, p99 ${percentile(lat, 99).toFixed(2)} ms, max ${Math.max(...lat).toFixed(2)} ms, failed ${agent.metricsLatency.failed}`,
  );
  console.log(
    'exporter scrape latency p50/p99 ms: ' +
      KINDS.map((k) => `${k} ${percentile(exporters.tallies[k].latenciesMs, 50).toFixed(2)}/${percentile(exporters.tallies[k].latenciesMs, 99).toFixed(2)}`).join(', '),
  );
  const verdict = (a: number, e: number) => (a <= e ? 'met' : 'NOT met');
  console.log(`\nCPU caretaker / exporters: ${(cpu(agent) / cpu(exporters)).toFixed(2)} (target < 1: ${verdict(cpu(agent), cpu(exporters))})`);
  console.log(`anon caretaker / exporters (average): ${(average(agent).anonKiB / average(exporters).anonKiB).toFixed(2)} (target <= 1.0: ${verdict(average(agent).anonKiB, average(exporters).anonKiB)})`);
  console.log(`PSS caretaker / exporters (average): ${(average(agent).pssKiB / average(exporters).pssKiB).toFixed(2)}; RSS ${(average(agent).rssKiB / average(exporters).rssKiB).toFixed(2)} (RSS counts the node binary's clean pages)`);
}

function probeCountOf(kind: Kind): number {
  return Array.from({ length: probeCount }, (_, i) => kindOf(i)).filter((k) => k === kind).length;
}

// ---- main ------------------------------------------------------------------------------------------------

requireExporters();
const work = await makeTempDir('bench-probes');
let redis: RedisServer | undefined;
let postgres: PostgresServer | undefined;
let targets: Targets | undefined;
try {
  console.error('building the bundle…');
  const bundle = buildBundle(work.path);
  console.error('starting redis-server, postgres and the http/tcp targets…');
  [redis, postgres, targets] = await Promise.all([startRedis(), startPostgres(), startTargets()]);
  const servers: Servers = { redis, postgres, targets };
  const order = flags['exporters-first'] ? 'exporters, then caretaker' : 'caretaker, then exporters';
  if (agentNodeFlags.length > 0) console.error(`agent node flags: ${agentNodeFlags.join(' ')}`);
  console.error(`caretaker with no probes: ${warmupS + 5} s…`);
  const floor = await agentFloor(bundle, work.path);
  let agentResult: AgentResult;
  let exportersResult: PhaseResult;
  const agentPhase = () => {
    console.error(`caretaker: ${warmupS + durationS} s…`);
    return runAgent(bundle, work.path, servers);
  };
  const exportersPhase = () => {
    console.error(`exporters: ${warmupS + durationS} s…`);
    return runExporters(work.path, servers);
  };
  if (flags['exporters-first']) {
    exportersResult = await exportersPhase();
    agentResult = await agentPhase();
  } else {
    agentResult = await agentPhase();
    exportersResult = await exportersPhase();
  }
  report(agentResult, exportersResult, floor, order);
  console.log(`target hits: http ${targets.counts().http}, tcp ${targets.counts().tcp}`);
} finally {
  await Promise.allSettled([redis?.stop(), postgres?.stop(), targets?.close()]);
  await work.cleanup();
}
process.exit(0);
