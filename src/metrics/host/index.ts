import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { createBootCollector } from './boot.js';
import { DEFAULT_PROC_PATH, type HostCollector } from './collector.js';
import { createCpuCollector } from './cpu.js';
import { createDiskCollector } from './disk.js';
import { createFilesystemCollector } from './filesystem.js';
import { createLoadCollector } from './load.js';
import { createMemoryCollector } from './memory.js';
import { createNetworkCollector } from './network.js';

export interface HostMetricsOptions {
  /** Time between the end of one refresh and the start of the next. */
  intervalMs: number;
  log: Logger;
  /** Where procfs is mounted; the host's /proc when the agent runs in a container (node_exporter's --path.procfs). */
  procPath?: string;
  /** A statfs() slower than this marks the mount unresponsive (node_exporter's --collector.filesystem.mount-timeout). */
  statfsTimeoutMs?: number;
}

export interface HostMetrics {
  /** Stops refreshing and takes every host metric out of the registry; safe to call twice. */
  stop(): void;
  /** Refreshes now (joining a refresh already in flight); resolves when the new snapshot is published. */
  refresh(): Promise<void>;
}

/**
 * Host metrics under node_exporter's names and labels, so its alert rules and dashboards work on the
 * agent unchanged. The kernel is read in the background every intervalMs; a scrape only reads the
 * published snapshot. The first refresh starts at once; until it lands the families have no samples.
 */
export function startHostMetrics(registry: Registry, options: HostMetricsOptions): HostMetrics {
  if (!(options.intervalMs > 0)) throw new RangeError(`host metrics interval must be positive, got ${options.intervalMs}`);
  const log = options.log;
  const procPath = options.procPath ?? DEFAULT_PROC_PATH;
  const collectors: HostCollector[] = [
    createCpuCollector(registry, procPath),
    createLoadCollector(registry, procPath),
    createMemoryCollector(registry, procPath),
    createFilesystemCollector(registry, { log, procPath, statfsTimeoutMs: options.statfsTimeoutMs }),
    createDiskCollector(registry, procPath),
    createNetworkCollector(registry, procPath),
    createBootCollector(registry, procPath),
  ];
  const success = new Gauge<'collector'>({
    name: 'node_scrape_collector_success',
    help: 'node_exporter: Whether a collector succeeded.',
    labelNames: ['collector'],
    registers: [registry],
  });
  const duration = new Gauge<'collector'>({
    name: 'node_scrape_collector_duration_seconds',
    help: 'node_exporter: Duration of a collector scrape.',
    labelNames: ['collector'],
    registers: [registry],
  });
  const metricNames = [...collectors.flatMap((collector) => collector.metricNames), 'node_scrape_collector_success', 'node_scrape_collector_duration_seconds'];

  const failing = new Set<string>();
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function refreshCollector(collector: HostCollector): Promise<void> {
    const started = performance.now();
    try {
      await collector.refresh();
      success.set({ collector: collector.name }, 1);
      if (failing.delete(collector.name)) log.info({ collector: collector.name }, 'host collector recovered');
    } catch (err) {
      collector.clear();
      success.set({ collector: collector.name }, 0);
      if (!failing.has(collector.name)) {
        failing.add(collector.name);
        log.error({ collector: collector.name, err }, 'host collector failed');
      }
    }
    duration.set({ collector: collector.name }, (performance.now() - started) / 1000);
  }

  function refresh(): Promise<void> {
    if (stopped) return Promise.resolve();
    inFlight ??= Promise.all(collectors.map(refreshCollector)).then(
      () => {
        inFlight = undefined;
      },
      () => {
        inFlight = undefined;
      },
    );
    return inFlight;
  }

  function scheduleNext(): void {
    if (stopped) return;
    timer = setTimeout(() => void refresh().then(scheduleNext), options.intervalMs);
    // The metrics server keeps the process alive; this timer must not on its own.
    timer.unref();
  }

  void refresh().then(scheduleNext);

  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      for (const name of metricNames) registry.removeSingleMetric(name);
    },
    refresh,
  };
}
