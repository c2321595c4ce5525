import { Counter, type Registry } from 'prom-client';
import { MAX_DEVICES, publishCounter, readProcFile, type HostCollector, type LabelValues } from './collector.js';

/**
 * The `--collector.netdev.device-exclude` default of node_exporter as Debian and Ubuntu ship it
 * (upstream's default excludes nothing): loopback traffic says nothing about the host's network.
 */
export const NETWORK_DEVICE_EXCLUDE = /^lo$/;

export interface InterfaceStats {
  receiveBytes: number;
  receivePackets: number;
  receiveErrs: number;
  transmitBytes: number;
  transmitPackets: number;
  transmitErrs: number;
}

/** /proc/net/dev: two header lines, then "  eth0: rx_bytes rx_packets rx_errs ... (8 rx columns) tx_bytes tx_packets tx_errs ...". */
export function parseNetDev(text: string): Map<string, InterfaceStats> {
  const interfaces = new Map<string, InterfaceStats>();
  for (const line of text.split('\n')) {
    const colon = line.lastIndexOf(':');
    if (colon < 0) continue;
    const fields = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (fields.length < 16 || fields.some((v) => !Number.isFinite(v))) continue;
    interfaces.set(line.slice(0, colon).trim(), {
      receiveBytes: fields[0]!,
      receivePackets: fields[1]!,
      receiveErrs: fields[2]!,
      transmitBytes: fields[8]!,
      transmitPackets: fields[9]!,
      transmitErrs: fields[10]!,
    });
  }
  return interfaces;
}

const COUNTERS = [
  ['node_network_receive_bytes_total', 'receive_bytes', 'receiveBytes'],
  ['node_network_receive_packets_total', 'receive_packets', 'receivePackets'],
  ['node_network_receive_errs_total', 'receive_errs', 'receiveErrs'],
  ['node_network_transmit_bytes_total', 'transmit_bytes', 'transmitBytes'],
  ['node_network_transmit_packets_total', 'transmit_packets', 'transmitPackets'],
  ['node_network_transmit_errs_total', 'transmit_errs', 'transmitErrs'],
] as const satisfies readonly (readonly [string, string, keyof InterfaceStats])[];

/** node_exporter's `netdev` collector subset: node_network_{receive,transmit}_{bytes,packets,errs}_total{device}. */
export function createNetworkCollector(registry: Registry, procPath: string): HostCollector {
  const counters = COUNTERS.map(
    ([name, statistic, field]) =>
      [field, new Counter<'device'>({ name, help: `Network device statistic ${statistic}.`, labelNames: ['device'], registers: [registry] })] as const,
  );
  return {
    name: 'netdev',
    metricNames: COUNTERS.map(([name]) => name),
    async refresh() {
      const interfaces = [...parseNetDev(readProcFile(procPath, 'net/dev'))]
        .filter(([device]) => !NETWORK_DEVICE_EXCLUDE.test(device))
        .slice(0, MAX_DEVICES);
      for (const [field, counter] of counters) {
        publishCounter(counter, interfaces.map(([device, stats]): [LabelValues<'device'>, number] => [{ device }, stats[field]]));
      }
    },
    clear() {
      for (const [, counter] of counters) counter.reset();
    },
  };
}
