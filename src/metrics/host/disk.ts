import { Counter, type Registry } from 'prom-client';
import { MAX_DEVICES, publishCounter, readProcFile, type HostCollector, type LabelValues } from './collector.js';

/** node_exporter's default `--collector.diskstats.device-exclude`: partitions, RAM disks, loop and floppy devices. */
export const DISK_DEVICE_EXCLUDE = /^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$/;

/** /proc/diskstats counts sectors of 512 bytes whatever the device's real sector size. */
const SECTOR_BYTES = 512;

export interface DiskStats {
  readsCompleted: number;
  readBytes: number;
  writesCompleted: number;
  writtenBytes: number;
  ioTimeSeconds: number;
}

/** /proc/diskstats: "major minor name reads merged sectors ms writes merged sectors ms inflight io_ms weighted_ms ...". */
export function parseDiskstats(text: string): Map<string, DiskStats> {
  const disks = new Map<string, DiskStats>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 14) continue;
    const name = fields[2]!;
    const n = (index: number) => Number(fields[3 + index]);
    disks.set(name, {
      readsCompleted: n(0),
      readBytes: n(2) * SECTOR_BYTES,
      writesCompleted: n(4),
      writtenBytes: n(6) * SECTOR_BYTES,
      ioTimeSeconds: n(9) / 1000,
    });
  }
  return disks;
}

const COUNTERS = [
  ['node_disk_reads_completed_total', 'The total number of reads completed successfully.', 'readsCompleted'],
  ['node_disk_read_bytes_total', 'The total number of bytes read successfully.', 'readBytes'],
  ['node_disk_writes_completed_total', 'The total number of writes completed successfully.', 'writesCompleted'],
  ['node_disk_written_bytes_total', 'The total number of bytes written successfully.', 'writtenBytes'],
  ['node_disk_io_time_seconds_total', 'Total seconds spent doing I/Os.', 'ioTimeSeconds'],
] as const satisfies readonly (readonly [string, string, keyof DiskStats])[];

/** node_exporter's `diskstats` collector subset, per whole disk: node_disk_*_total{device}. */
export function createDiskCollector(registry: Registry, procPath: string): HostCollector {
  const counters = COUNTERS.map(
    ([name, help, field]) => [field, new Counter<'device'>({ name, help, labelNames: ['device'], registers: [registry] })] as const,
  );
  return {
    name: 'diskstats',
    metricNames: COUNTERS.map(([name]) => name),
    async refresh() {
      const disks = [...parseDiskstats(readProcFile(procPath, 'diskstats'))]
        .filter(([device]) => !DISK_DEVICE_EXCLUDE.test(device))
        .slice(0, MAX_DEVICES);
      for (const [field, counter] of counters) {
        publishCounter(counter, disks.map(([device, stats]): [LabelValues<'device'>, number] => [{ device }, stats[field]]));
      }
    },
    clear() {
      for (const [, counter] of counters) counter.reset();
    },
  };
}
