// Cost of one host-metrics refresh (what the agent pays every metrics.hostInterval), against getting
// the same numbers from systeminformation, in the same run. Usage: node --import tsx bench/metrics/host-refresh.ts [rounds]
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { Registry } from 'prom-client';
import si from 'systeminformation';
import { startHostMetrics } from '../../src/metrics/host/index.js';

const rounds = Number(process.argv[2] ?? 200);

/** CPU of this process plus the children it waited for (systeminformation spawns df, lsblk, …), in ms. */
function cpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // utime, stime, cutime, cstime are fields 14-17 of /proc/<pid>/stat; after "pid (comm) " they sit at 11-14.
  const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index]), 0);
  return ticks * 10;
}

async function measure(label: string, n: number, work: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(20, n); i++) await work();
  const cpu0 = cpuMs();
  const wall0 = performance.now();
  for (let i = 0; i < n; i++) await work();
  const perCpu = (cpuMs() - cpu0) / n;
  const perWall = (performance.now() - wall0) / n;
  console.log(`${label.padEnd(44)} cpu ${perCpu.toFixed(2).padStart(7)} ms   wall ${perWall.toFixed(2).padStart(7)} ms   (${n} rounds)`);
  return perCpu;
}

const registry = new Registry();
const host = startHostMetrics(registry, { intervalMs: 3_600_000, log: pino({ level: 'silent' }) });
const rss0 = process.memoryUsage().rss;
const ours = await measure('caretaker host refresh (/proc + statfs)', rounds, () => host.refresh());
await measure('scrape of the host families (registry.metrics)', rounds, () => registry.metrics());
const series = (await registry.metrics()).split('\n').filter((line) => line && !line.startsWith('#')).length;
const theirs = await measure('systeminformation equivalent', Math.max(10, Math.floor(rounds / 10)), () =>
  Promise.all([si.currentLoad(), si.mem(), si.fsSize(), si.disksIO(), si.networkStats('*'), si.time()]),
);
host.stop();
console.log(`series: ${series}; RSS of this process after both: ${(process.memoryUsage().rss / 2 ** 20).toFixed(1)} MiB (at start ${(rss0 / 2 ** 20).toFixed(1)} MiB)`);
console.log(`ratio systeminformation / caretaker CPU per refresh: ${(theirs / ours).toFixed(1)}x`);
