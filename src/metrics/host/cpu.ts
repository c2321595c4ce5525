import { Counter, type Registry } from 'prom-client';
import { publishCounter, readProcFile, USER_HZ, type HostCollector, type LabelValues } from './collector.js';

/** The columns of a `cpuN` line of /proc/stat, in order, that node_exporter exports as modes (guest time is inside user). */
export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
export type CpuMode = (typeof CPU_MODES)[number];

/** Per-CPU seconds by mode from /proc/stat (the aggregate `cpu` line is not exported; sum() gives it). */
export function parseCpuStat(text: string): Map<string, Record<CpuMode, number>> {
  const cpus = new Map<string, Record<CpuMode, number>>();
  for (const line of text.split('\n')) {
    const match = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const ticks = match[2]!.trim().split(/\s+/).map(Number);
    const seconds = {} as Record<CpuMode, number>;
    CPU_MODES.forEach((mode, column) => {
      // Old kernels have fewer columns (steal came in 2.6.11); a missing column is no time spent.
      seconds[mode] = (ticks[column] ?? 0) / USER_HZ;
    });
    cpus.set(match[1]!, seconds);
  }
  if (cpus.size === 0) throw new Error('no cpuN lines in /proc/stat');
  return cpus;
}

/** node_exporter's `cpu` collector subset: node_cpu_seconds_total{cpu, mode}. */
export function createCpuCollector(registry: Registry, procPath: string): HostCollector {
  const counter = new Counter<'cpu' | 'mode'>({
    name: 'node_cpu_seconds_total',
    help: 'Seconds the CPUs spent in each mode.',
    labelNames: ['cpu', 'mode'],
    registers: [registry],
  });
  // The kernel's idle and iowait can step back a little on tickless CPUs; a counter that decreases
  // reads as a reset to rate(), so each series keeps its highest value (as node_exporter does).
  let previous = new Map<string, Record<CpuMode, number>>();
  return {
    name: 'cpu',
    metricNames: ['node_cpu_seconds_total'],
    async refresh() {
      const current = parseCpuStat(readProcFile(procPath, 'stat'));
      const samples: [LabelValues<'cpu' | 'mode'>, number][] = [];
      for (const [cpu, seconds] of current) {
        const before = previous.get(cpu);
        for (const mode of CPU_MODES) {
          if (before && seconds[mode] < before[mode]) seconds[mode] = before[mode];
          samples.push([{ cpu, mode }, seconds[mode]]);
        }
      }
      previous = current;
      publishCounter(counter, samples);
    },
    clear() {
      counter.reset();
    },
  };
}
