import { Gauge, Registry } from 'prom-client';
import gc from 'prom-client/lib/metrics/gc.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import nodeVersion from 'prom-client/lib/metrics/version.js';
import { replaceLoopLagGauges } from './loop-lag.js';

export interface AgentRegistry {
  registry: Registry;
}

/**
 * The process's one registry (never prom-client's global default), with the agent's own metrics.
 * The gauges read cached agent state at scrape time.
 */
export interface AgentGauges {
  /** Each configured module as `[name, 0|1]`. */
  moduleUp(): Array<[string, number]>;
  /** Whether the last reload's config file was accepted (boot counts as one). */
  lastReloadOk(): boolean;
  /** `[module, kind, count]` of conflicts with other tools, 0 for a kind once resolved. */
  conflicts(): Array<[string, string, number]>;
}

/** collectDefaultMetrics' list (prom-client 15), in its order, minus eventLoopLag. */
const DEFAULT_COLLECTORS = [
  processCpuTotal,
  processStartTime,
  osMemoryHeap,
  processOpenFileDescriptors,
  processMaxFileDescriptors,
  processResources,
  processHandles,
  processRequests,
  heapSizeAndUsed,
  heapSpacesSizeAndUsed,
  nodeVersion,
  gc,
];

export function createAgentRegistry(version: string, gauges: AgentGauges): AgentRegistry {
  const registry = new Registry();
  // prom-client's defaults without its event-loop collector: the agent's own (loop-lag.ts) takes its names. Made
  // and then removed, that collector's enabled HDR histogram outlived its gauge, and a later scrape's
  // process._getActiveHandles() met the collected wrapper and aborted the process (Node's GetOwner CHECK).
  for (const collect of DEFAULT_COLLECTORS) collect(registry, {});
  replaceLoopLagGauges(registry, 1000);
  // prom-client exports these gauges with a `_total` suffix, which Prometheus reserves for counters;
  // the same numbers stay available without it (nodejs_active_handles, …).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  const buildInfo = new Gauge({
    name: 'caretaker_build_info',
    help: 'Always 1; labels carry the caretaker and Node.js versions.',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  });
  buildInfo.set({ version, node: process.versions.node }, 1);
  new Gauge({
    name: 'caretaker_module_up',
    help: 'Whether a configured module is running and healthy (1) or failed (0).',
    labelNames: ['module'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [module, up] of gauges.moduleUp()) this.set({ module }, up);
    },
  });
  new Gauge({
    name: 'caretaker_config_last_reload_successful',
    help: 'Whether the last reload of the config file was accepted (1) or refused as invalid (0); the running config is the last accepted one.',
    registers: [registry],
    collect() {
      this.set(gauges.lastReloadOk() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'caretaker_conflicts',
    help: 'Items another tool still handles too (logrotate rotating a log set, certbot renewing a certificate); caretaker status names the fix.',
    labelNames: ['module', 'kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [module, kind, count] of gauges.conflicts()) this.set({ module, kind }, count);
    },
  });
  return { registry };
}
