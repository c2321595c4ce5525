import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { replaceLoopLagGauges } from '../../src/metrics/loop-lag.js';
import { createAgentRegistry } from '../../src/metrics/registry.js';

const LAG_FAMILY = /^# (HELP|TYPE) (nodejs_eventloop_lag\w*) (.*)$/;

function lagFamilies(text: string): string[] {
  return text.split('\n').filter((line) => LAG_FAMILY.test(line)).sort();
}

function value(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
}

/**
 * Kept for the whole file: prom-client's collectors enable an HDR histogram, and one whose registry is
 * collected while enabled makes the next process._getActiveHandles() (any scrape) abort the process.
 */
const theirs = new Registry();

test("the agent's event-loop gauges keep prom-client's names, help and types", async () => {
  collectDefaultMetrics({ register: theirs, eventLoopMonitoringPrecision: 1000 });
  const ours = createAgentRegistry('0.0.0-test', { moduleUp: () => [], lastReloadOk: () => true, conflicts: () => [] }).registry;
  const expected = lagFamilies(await theirs.metrics());
  assert.equal(expected.length, 16);
  assert.deepEqual(lagFamilies(await ours.metrics()), expected);
});

test("a render reads no HDR histogram (its stddev and percentiles walk every bucket: a quarter of a render's CPU)", async (t) => {
  const sample = monitorEventLoopDelay();
  t.after(() => sample.disable());
  const histogram = Object.getPrototypeOf(sample) as object;
  const reads = { count: 0 };
  for (const [owner, name] of [[Object.getPrototypeOf(histogram), 'stddev'], [Object.getPrototypeOf(histogram), 'percentile']] as const) {
    const descriptor = Object.getOwnPropertyDescriptor(owner, name)!;
    const patched = descriptor.get
      ? { ...descriptor, get(this: unknown) { reads.count++; return descriptor.get!.call(this); } }
      : { ...descriptor, value(this: unknown, ...args: unknown[]) { reads.count++; return (descriptor.value as (...a: unknown[]) => unknown).apply(this, args); } };
    Object.defineProperty(owner, name, patched);
    t.after(() => Object.defineProperty(owner, name, descriptor));
  }
  const registry = createAgentRegistry('0.0.0-test', { moduleUp: () => [], lastReloadOk: () => true, conflicts: () => [] }).registry;
  await registry.metrics();
  await registry.metrics();
  assert.equal(reads.count, 0);
});

test('the statistics cover the delays since the last scrape, and a scrape with no new delay keeps the last values', async () => {
  const registry = new Registry();
  replaceLoopLagGauges(registry, 10);
  await sleep(50);
  const blockedUntil = performance.now() + 60;
  while (performance.now() < blockedUntil) {
    // Hold the loop so the next sample is late.
  }
  await sleep(30);
  const first = await registry.metrics();
  assert.ok(value(first, 'nodejs_eventloop_lag_max_seconds') >= 0.04, first);
  assert.ok(value(first, 'nodejs_eventloop_lag_min_seconds') < 0.04, first);
  assert.ok(value(first, 'nodejs_eventloop_lag_p50_seconds') < value(first, 'nodejs_eventloop_lag_max_seconds'));
  assert.ok(value(first, 'nodejs_eventloop_lag_stddev_seconds') > 0);
  await sleep(50);
  const second = await registry.metrics();
  assert.ok(value(second, 'nodejs_eventloop_lag_max_seconds') < 0.04, 'the blocked sample belongs to the previous scrape');
  const third = await registry.metrics();
  assert.equal(value(third, 'nodejs_eventloop_lag_max_seconds'), value(second, 'nodejs_eventloop_lag_max_seconds'));
});

test("the agent's registry starts no HDR histogram of prom-client's (orphaned by the gauge swap, it made a scrape abort the process)", async (t) => {
  // prom-client reaches perf_hooks through require(); the CommonJS module object is the one to watch.
  const perfHooks = createRequire(import.meta.url)('node:perf_hooks') as { monitorEventLoopDelay: (...args: unknown[]) => unknown };
  const original = perfHooks.monitorEventLoopDelay;
  let started = 0;
  perfHooks.monitorEventLoopDelay = (...args: unknown[]) => {
    started++;
    return original(...args);
  };
  t.after(() => {
    perfHooks.monitorEventLoopDelay = original;
  });
  const registry = createAgentRegistry('0.0.0-test', { moduleUp: () => [], lastReloadOk: () => true, conflicts: () => [] }).registry;
  assert.equal(started, 0);
  assert.match(await registry.metrics(), /^nodejs_active_handles\{type="\w+"\} \d+$/m, 'the handle gauges prom-client gives are still there');
});
