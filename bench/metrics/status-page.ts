// What the status page (GET / on the admin listener) costs the agent: two agents of the production bundle side
// by side, every module on (test/metrics/all-modules.ts), the unit's environment. One has the page open in a
// "browser" for the whole run: GET / and then what its script reads (/status and each module's route), every
// 5 s as the page refreshes itself; the other never serves it. Meanwhile /metrics is requested one at a
// time, alternating between the two, every answer a fresh render; then both sit idle and their memory is read.
// The roles swap each round, so a difference that follows the slot rather than the page shows as noise.
// Usage: node --import tsx bench/metrics/status-page.ts [--rounds 2] [--requests 60] [--idle 60]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, waitForPort } from '../../test/harness/ports.js';
import { allModulesConfig } from '../../test/metrics/all-modules.js';
import { describeMemory, memoryOf, type Memory } from '../proc-memory.js';
import { get, percentile } from '../probes/scrape.js';
import { agentEnvironment } from '../unit-env.mjs';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    requests: { type: 'string', default: '60' },
    idle: { type: 'string', default: '60' },
  },
});
const rounds = Math.max(1, Math.min(6, Number(flags.rounds)));
const requests = Math.max(10, Math.min(300, Number(flags.requests)));
const idleS = Math.max(10, Math.min(300, Number(flags.idle)));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Past the agent's one-second /metrics render cache. */
const SPACING_MS = 1150;
/** The page's own refresh (REFRESH_MS in src/agent/admin/status-page-html.ts). */
const PAGE_REFRESH_MS = 5000;
const PAGE_READS = ['/', '/status', '/certs', '/backups', '/probes', '/logs', '/alerts'];

const deadlineS = rounds * ((requests * 2 * SPACING_MS) / 1000 + idleS + 60) + 120;
setTimeout(() => {
  console.error(`bench/metrics/status-page: still running after ${deadlineS.toFixed(0)} s; giving up`);
  process.exit(3);
}, deadlineS * 1000).unref();

interface Agent {
  child: ChildProcess;
  admin: string;
  metrics: string;
}

async function startAgent(bundle: string, dir: string): Promise<Agent> {
  const [admin, metrics] = [await freePort(), await freePort()];
  const configPath = path.join(dir, 'caretaker.yaml');
  await writeFile(configPath, await allModulesConfig(dir, { admin, metrics }));
  const child = spawn(process.execPath, [bundle, 'run', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'], env: agentEnvironment() });
  await Promise.all([waitForPort(admin), waitForPort(metrics)]);
  return { child, admin: `http://127.0.0.1:${admin}`, metrics: `http://127.0.0.1:${metrics}/metrics` };
}

/** One refresh of the page: its HTML, then the JSON its script reads. */
async function readPage(agent: Agent): Promise<void> {
  for (const route of PAGE_READS) {
    const answer = await get(`${agent.admin}${route}`, 10_000, { accept: route === '/' ? 'text/html' : 'application/json' });
    // A module that is not configured answers 404 on its route; anything else is a broken bench.
    if (answer.status !== 200 && answer.status !== 404) throw new Error(`${route} answered ${answer.status}`);
  }
}

interface Result {
  p50: number;
  p99: number;
  memory: Memory;
}

async function round(bundle: string, work: string, pageFirst: boolean): Promise<{ page: Result; plain: Result }> {
  const slots = await Promise.all([0, 1].map(async (i) => startAgent(bundle, await mkdtemp(path.join(work, `agent-${i}-`)))));
  try {
    const [page, plain] = pageFirst ? slots : [slots[1]!, slots[0]!];
    await sleep(5000);
    const latencies = new Map<Agent, number[]>([[page, []], [plain, []]]);
    let nextPage = 0;
    const started = performance.now();
    for (let i = 0; i < requests; i++) {
      for (const [index, agent] of slots.entries()) {
        await sleep(Math.max(0, started + i * SPACING_MS + (index * SPACING_MS) / 2 - performance.now()));
        const answer = await get(agent.metrics, 10_000);
        if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}`);
        latencies.get(agent)!.push(answer.ms);
      }
      if (performance.now() >= nextPage) {
        nextPage = performance.now() + PAGE_REFRESH_MS;
        await readPage(page);
      }
    }
    await sleep(idleS * 1000);
    const result = (agent: Agent): Result => ({
      p50: percentile(latencies.get(agent)!, 50),
      p99: percentile(latencies.get(agent)!, 99),
      memory: memoryOf(agent.child.pid!),
    });
    return { page: result(page), plain: result(plain) };
  } finally {
    for (const agent of slots) agent.child.kill('SIGTERM');
  }
}

const loadAtStart = os.loadavg().map((l) => l.toFixed(2)).join(' ');
const work = await mkdtemp(path.join(os.tmpdir(), 'caretaker-bench-page-'));
try {
  const dist = path.join(work, 'dist');
  execFileSync(process.execPath, ['scripts/build.mjs', dist], { cwd: ROOT, stdio: 'pipe' });
  const bundle = path.join(dist, 'caretaker.mjs');
  console.log(`load average at start: ${loadAtStart}; ${requests} /metrics requests per agent ${SPACING_MS} ms apart, alternating; the page read every ${PAGE_REFRESH_MS / 1000} s meanwhile; then ${idleS} s idle`);
  console.log('| round | agent | /metrics p50 ms | p99 ms | memory after idle |');
  console.log('|---|---|---|---|---|');
  const deltas: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const { page, plain } = await round(bundle, work, r % 2 === 0);
    for (const [name, result] of [['page served', page], ['page never served', plain]] as const) {
      console.log(`| ${r + 1} | ${name} | ${result.p50.toFixed(2)} | ${result.p99.toFixed(2)} | ${describeMemory(result.memory)} |`);
    }
    deltas.push((page.memory.rssKiB - plain.memory.rssKiB) / 1024);
  }
  const sorted = [...deltas].sort((a, b) => a - b);
  const median = (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
  console.log(`RSS, page served minus never served: ${deltas.map((d) => `${d >= 0 ? '+' : ''}${d.toFixed(1)}`).join(', ')} MiB (median ${median.toFixed(2)}; target < 2 MiB)`);
} finally {
  await rm(work, { recursive: true, force: true });
}
