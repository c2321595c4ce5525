import type { LabelSet } from '../../agent/kit/item-set.js';
import type { MetricsRegistrar } from '../../agent/kit/metrics.js';

export const ROTATION_RESULTS = ['success', 'failure'] as const;
export type RotationResult = (typeof ROTATION_RESULTS)[number];

export function declareMetrics(registrar: MetricsRegistrar) {
  return {
    rotations: registrar.counter({
      name: 'caretaker_log_rotations_total',
      help: 'Rotations of a log set, by result (a failure includes refusals and a writer that did not reopen).',
      labelNames: ['log', 'result'] as const,
    }),
    lastRotation: registrar.gauge({
      name: 'caretaker_log_last_rotation_timestamp_seconds',
      help: 'Unix time of the last successful rotation of a log set.',
      labelNames: ['log'] as const,
    }),
    rotatedBytes: registrar.counter({
      name: 'caretaker_log_rotated_bytes_total',
      help: 'Bytes of live log moved aside by rotation (before compression).',
      labelNames: ['log'] as const,
    }),
    compressionRatio: registrar.gauge({
      name: 'caretaker_log_compression_ratio',
      help: 'Compressed size divided by original size for the last file compressed in a log set.',
      labelNames: ['log'] as const,
    }),
    liveBytes: registrar.gauge({
      name: 'caretaker_log_live_bytes',
      help: 'Total size of the live files of a log set at the last check.',
      labelNames: ['log'] as const,
    }),
  };
}

export type LogsMetrics = ReturnType<typeof declareMetrics>;

/**
 * The label sets a log set owns while it is configured; the counters and the live size start at 0 so
 * alerts on rate() see the series from the first scrape.
 */
export function itemLabelSets(metrics: LogsMetrics, log: string): LabelSet[] {
  return [
    ...ROTATION_RESULTS.map((result) => ({ metric: metrics.rotations, labels: { log, result }, zero: true })),
    { metric: metrics.rotatedBytes, labels: { log }, zero: true },
    { metric: metrics.liveBytes, labels: { log }, zero: true },
    { metric: metrics.lastRotation, labels: { log } },
    { metric: metrics.compressionRatio, labels: { log } },
  ];
}
