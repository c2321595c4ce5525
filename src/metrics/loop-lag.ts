import { performance } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

const LAG = 'nodejs_eventloop_lag_seconds';
const STATISTICS = {
  nodejs_eventloop_lag_min_seconds: ['The minimum recorded event loop delay.', (s: number[]) => s[0]!],
  nodejs_eventloop_lag_max_seconds: ['The maximum recorded event loop delay.', (s: number[]) => s.at(-1)!],
  nodejs_eventloop_lag_mean_seconds: ['The mean of the recorded event loop delays.', mean],
  nodejs_eventloop_lag_stddev_seconds: ['The standard deviation of the recorded event loop delays.', stddev],
  nodejs_eventloop_lag_p50_seconds: ['The 50th percentile of the recorded event loop delays.', (s: number[]) => percentile(s, 50)],
  nodejs_eventloop_lag_p90_seconds: ['The 90th percentile of the recorded event loop delays.', (s: number[]) => percentile(s, 90)],
  nodejs_eventloop_lag_p99_seconds: ['The 99th percentile of the recorded event loop delays.', (s: number[]) => percentile(s, 99)],
} as const;
/** An hour of samples: a registry nobody scrapes does not grow. */
const MAX_SAMPLES = 3600;

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function stddev(values: number[]): number {
  const average = mean(values);
  return Math.sqrt(mean(values.map((x) => (x - average) ** 2)));
}

/** Nearest rank of sorted `values`. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * prom-client's event-loop delay gauges, same names and help, from how late a timer every `sampleMs` runs.
 * prom-client reads them from Node's HDR histogram, whose stddev and percentile getters each walk all its
 * buckets: a quarter of a fresh render's CPU with every module on (--cpu-prof, bench/metrics/RESULTS.md).
 * The statistics cover the delays since the previous scrape; a scrape with no new sample keeps the last values.
 */
export function replaceLoopLagGauges(registry: Registry, sampleMs: number): void {
  for (const name of [LAG, ...Object.keys(STATISTICS)]) registry.removeSingleMetric(name);
  let samples: number[] = [];
  let dueAt = performance.now() + sampleMs;
  const tick = () => {
    const now = performance.now();
    if (samples.length < MAX_SAMPLES) samples.push(Math.max(0, now - dueAt) / 1000);
    dueAt = now + sampleMs;
    setTimeout(tick, sampleMs).unref();
  };
  setTimeout(tick, sampleMs).unref();
  // Registered first, so its collect sets the others before the registry reads them.
  new Gauge({
    name: LAG,
    help: 'Lag of event loop in seconds.',
    registers: [registry],
    collect() {
      if (samples.length === 0) return;
      this.set(samples.at(-1)!);
      const sorted = samples.sort((a, b) => a - b);
      samples = [];
      for (const { gauge, statistic } of gauges) gauge.set(statistic(sorted));
    },
  });
  const gauges = Object.entries(STATISTICS).map(([name, [help, statistic]]) => ({ gauge: new Gauge({ name, help, registers: [registry] }), statistic }));
}
