import type { MetricsRegistrar } from '../../agent/kit/metrics.js';

export const ROTATION_RESULTS = ['success', 'failure'] as const;
export type RotationResult = (typeof ROTATION_RESULTS)[number];

export function defineLogsMetrics(registrar: MetricsRegistrar) {
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

export type LogsMetrics = ReturnType<typeof defineLogsMetrics>;

/** Known label sets start at 0 so alerts on rate() see the series from the first scrape. */
export function initSetMetrics(metrics: LogsMetrics, log: string): void {
  for (const result of ROTATION_RESULTS) metrics.rotations.inc({ log, result }, 0);
  metrics.rotatedBytes.inc({ log }, 0);
  metrics.liveBytes.set({ log }, 0);
}

export function removeSetMetrics(metrics: LogsMetrics, log: string): void {
  for (const result of ROTATION_RESULTS) metrics.rotations.remove({ log, result });
  metrics.lastRotation.remove({ log });
  metrics.rotatedBytes.remove({ log });
  metrics.compressionRatio.remove({ log });
  metrics.liveBytes.remove({ log });
}
