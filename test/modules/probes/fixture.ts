import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import type { ConditionBus } from '../../../src/agent/kit/conditions.js';
import { configSchema, type ProbesConfig } from '../../../src/modules/probes/config.js';
import { declareMetrics } from '../../../src/modules/probes/metrics.js';
import type { ProbeView } from '../../../src/modules/probes/probe.js';
import { Prober } from '../../../src/modules/probes/prober.js';
import { createTestContext } from '../../helpers/module-context.js';

export interface ProberFixture {
  prober: Prober;
  registry: Registry;
  /** What the probes reported through ctx.conditions. */
  conditions: ConditionBus;
  /** Runs one check of the named probe and returns its view. */
  check(name: string): Promise<ProbeView>;
  /** The value of one sample in the registry, undefined when absent. */
  sample(metric: string, labels: Record<string, string>): Promise<number | undefined>;
  stop(): Promise<void>;
}

export function parseProbes(items: unknown[]): ProbesConfig {
  return configSchema.parse(items);
}

/**
 * A started Prober on a real test context. Items default to a one-hour interval so only the checks a test
 * asks for (plus the one at start) run.
 */
export async function startProber(items: Array<Record<string, unknown>>): Promise<ProberFixture> {
  const test = await createTestContext('probes');
  const metrics = declareMetrics(test.registrar);
  const config = parseProbes(items.map((item) => ({ interval: '1h', ...item })));
  const prober = new Prober(test.ctx, config, metrics);
  await prober.start();
  return {
    prober,
    registry: test.registry,
    conditions: test.conditions,
    async check(name) {
      await prober.checkNow(name);
      return prober.get(name);
    },
    async sample(metric, labels) {
      const found = (await test.registry.getSingleMetric(metric)?.get())?.values.find((v) =>
        Object.entries(labels).every(([k, value]) => String(v.labels[k]) === value),
      );
      return found?.value;
    },
    async stop() {
      await prober.stop();
      await test.dispose();
    },
  };
}

/** Starts a prober with one probe, checks it once and stops. */
export async function checkOnce(item: Record<string, unknown>): Promise<ProbeView> {
  const fixture = await startProber([{ name: 'p', ...item }]);
  try {
    return await fixture.check('p');
  } finally {
    await fixture.stop();
  }
}

// The schedule counts an interval from the end of a check, so "back within one interval" means at most
// one interval plus one check (bounded by the timeout).
export const INTERVAL_MS = 1_000;
export const TIMEOUT_MS = 500;

/** Polls `read` until it returns true, at most `ms`; returns whether it did. */
export async function eventually(read: () => boolean | Promise<boolean>, ms = 2_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await read()) return true;
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
}

/** Waits for the probe to reach `status` through its own schedule; resolves with the time it took. */
export async function waitForStatus(fixture: ProberFixture, name: string, status: ProbeView['status'], ms: number): Promise<number> {
  const started = Date.now();
  const reached = await eventually(() => fixture.prober.get(name).status === status, ms);
  assert.ok(reached, `${name} did not become ${status} within ${ms} ms: ${JSON.stringify(fixture.prober.get(name).last)}`);
  return Date.now() - started;
}

