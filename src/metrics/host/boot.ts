import { Gauge, type Registry } from 'prom-client';
import { OptionalGauge, readProcFile, type HostCollector } from './collector.js';

/** `btime` of /proc/stat: the boot time in seconds since the epoch. */
export function parseBootTime(text: string): number {
  const match = /^btime\s+(\d+)\s*$/m.exec(text);
  if (!match) throw new Error('no btime line in /proc/stat');
  return Number(match[1]);
}

/**
 * node_exporter's `stat` (node_boot_time_seconds) and `time` (node_time_seconds) collectors.
 * node_exporter has no uptime metric; uptime is `node_time_seconds - node_boot_time_seconds`, so we
 * add none rather than invent a name that a later node_exporter could give another meaning.
 */
export function createBootCollector(registry: Registry, procPath: string): HostCollector {
  const bootTime = new OptionalGauge({ name: 'node_boot_time_seconds', help: 'Node boot time, in unixtime.', registers: [registry] });
  // Reading the clock is not I/O: done per scrape so clock-skew rules (node_time_seconds - timestamp(...)) stay exact.
  const time = new Gauge({
    name: 'node_time_seconds',
    help: 'System time in seconds since epoch (1970).',
    registers: [registry],
    collect() {
      this.set(Date.now() / 1000);
    },
  });
  return {
    name: 'stat',
    metricNames: ['node_boot_time_seconds', 'node_time_seconds'],
    async refresh() {
      bootTime.publish(parseBootTime(readProcFile(procPath, 'stat')));
    },
    clear() {
      bootTime.withdraw();
    },
  };
}
