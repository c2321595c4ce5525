import type { Registry } from 'prom-client';
import { OptionalGauge, readProcFile, type HostCollector } from './collector.js';

/** The /proc/meminfo fields exported, each as node_memory_<field>_bytes (node_exporter's `meminfo` names). */
export const MEMINFO_FIELDS = ['MemTotal', 'MemFree', 'MemAvailable', 'Buffers', 'Cached', 'SwapTotal', 'SwapFree'] as const;
export type MeminfoField = (typeof MEMINFO_FIELDS)[number];

/** `/proc/meminfo` lines ("MemTotal:       24683620 kB") → bytes; lines without a unit are counts and kept as is. */
export function parseMeminfo(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z0-9_()]+):\s+(\d+)(\s+kB)?\s*$/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    values.set(match[1]!, match[3] ? value * 1024 : value);
  }
  return values;
}

/** node_exporter's `meminfo` subset. A field the kernel does not report is left out, as node_exporter does. */
export function createMemoryCollector(registry: Registry, procPath: string): HostCollector {
  const gauges = MEMINFO_FIELDS.map(
    (field) =>
      [field, new OptionalGauge({ name: `node_memory_${field}_bytes`, help: `Memory information field ${field}_bytes.`, registers: [registry] })] as const,
  );
  return {
    name: 'meminfo',
    metricNames: MEMINFO_FIELDS.map((field) => `node_memory_${field}_bytes`),
    async refresh() {
      const meminfo = parseMeminfo(readProcFile(procPath, 'meminfo'));
      for (const [field, gauge] of gauges) {
        const value = meminfo.get(field);
        if (value === undefined) gauge.withdraw();
        else gauge.publish(value);
      }
    },
    clear() {
      for (const [, gauge] of gauges) gauge.withdraw();
    },
  };
}
