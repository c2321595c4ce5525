import type { Registry } from 'prom-client';
import { OptionalGauge, readProcFile, type HostCollector } from './collector.js';

export interface LoadAverage {
  load1: number;
  load5: number;
  load15: number;
}

/** `/proc/loadavg`: "0.85 0.50 0.24 2/96 7520". Read rather than os.loadavg() for the kernel's own two decimals, as node_exporter shows. */
export function parseLoadavg(text: string): LoadAverage {
  const [load1, load5, load15] = text.trim().split(/\s+/, 3).map(Number);
  if (load1 === undefined || load5 === undefined || load15 === undefined || ![load1, load5, load15].every(Number.isFinite)) {
    throw new Error(`unexpected /proc/loadavg content: ${JSON.stringify(text.slice(0, 80))}`);
  }
  return { load1, load5, load15 };
}

/** node_exporter's `loadavg` collector: node_load1, node_load5, node_load15. */
export function createLoadCollector(registry: Registry, procPath: string): HostCollector {
  const gauges = {
    load1: new OptionalGauge({ name: 'node_load1', help: '1m load average.', registers: [registry] }),
    load5: new OptionalGauge({ name: 'node_load5', help: '5m load average.', registers: [registry] }),
    load15: new OptionalGauge({ name: 'node_load15', help: '15m load average.', registers: [registry] }),
  };
  const all = Object.values(gauges);
  return {
    name: 'loadavg',
    metricNames: ['node_load1', 'node_load5', 'node_load15'],
    async refresh() {
      const load = parseLoadavg(readProcFile(procPath, 'loadavg'));
      gauges.load1.publish(load.load1);
      gauges.load5.publish(load.load5);
      gauges.load15.publish(load.load15);
    },
    clear() {
      for (const gauge of all) gauge.withdraw();
    },
  };
}
