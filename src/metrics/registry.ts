import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
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

export function createAgentRegistry(version: string, gauges: AgentGauges): AgentRegistry {
  const registry = new Registry();
  // The default 10 ms event-loop sampling wakes an idle agent 100 times a second; 1 s is plenty for a gauge.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1000 });
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
