// A separate process that times HTTP answers of a running agent, so the measurement does not share the
// agent's event loop. Requests go one after another (a new one every INTERVAL_MS, or as soon as the previous
// answer arrived when it was late). On SIGTERM it prints one JSON line: per path, count, p50, p99, max (ms), and the same for its own
// event-loop delay (a control for the host's CPU contention).
//
//   node --import tsx latency-probe.ts URL...
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const INTERVAL_MS = 50;
const urls = process.argv.slice(2);
const samples = new Map<string, number[]>(urls.map((u) => [new URL(u).pathname, []]));
let running = true;

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

async function loop(): Promise<void> {
  while (running) {
    const started = performance.now();
    for (const url of urls) {
      const t0 = performance.now();
      const response = await fetch(url);
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`${url}: ${response.status}`);
      samples.get(new URL(url).pathname)!.push(performance.now() - t0);
    }
    const wait = INTERVAL_MS - (performance.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

// Warm the connections before the parent starts counting.
for (const url of urls) await (await fetch(url)).arrayBuffer();
process.stdout.write('ready\n');
// This process's own event-loop delay is the control: what the host's CPU contention alone costs a node process.
const control = monitorEventLoopDelay({ resolution: 10 });
control.enable();
const done = loop();
await once(process, 'SIGTERM');
running = false;
await done;
control.disable();
const report: Record<string, { count: number; p50: number; p99: number; max: number }> = {
  'probe event loop delay': { count: control.count, p50: control.percentile(50) / 1e6, p99: control.percentile(99) / 1e6, max: control.max / 1e6 },
};
for (const [path, values] of samples) {
  const sorted = [...values].sort((a, b) => a - b);
  report[path] = { count: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1) ?? NaN };
}
process.stdout.write(JSON.stringify(report) + '\n');
