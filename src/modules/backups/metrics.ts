import type { MetricsRegistrar } from '../../agent/kit/metrics.js';

export const RUN_RESULTS = ['success', 'failure', 'skipped'] as const;
export type RunResult = (typeof RUN_RESULTS)[number];

/** Declared once per process so counters survive reloads; values are set as runs happen, never at scrape. */
export function backupMetrics(registrar: MetricsRegistrar) {
  return {
    lastSuccess: registrar.gauge({
      name: 'caretaker_backup_last_success_timestamp_seconds',
      help: 'Unix time the last successful, verified backup of the job finished.',
      labelNames: ['backup'],
    }),
    lastAttempt: registrar.gauge({
      name: 'caretaker_backup_last_attempt_timestamp_seconds',
      help: 'Unix time the last backup run of the job finished, whatever its result.',
      labelNames: ['backup'],
    }),
    lastDuration: registrar.gauge({
      name: 'caretaker_backup_last_duration_seconds',
      help: 'How long the last backup run of the job took.',
      labelNames: ['backup'],
    }),
    lastSize: registrar.gauge({
      name: 'caretaker_backup_last_size_bytes',
      help: 'Size of the last successful backup of the job.',
      labelNames: ['backup'],
    }),
    runs: registrar.counter({
      name: 'caretaker_backup_runs_total',
      help: 'Backup runs by result; skipped counts scheduled runs that found the previous one still going.',
      labelNames: ['backup', 'result'],
    }),
    lastVerify: registrar.gauge({
      name: 'caretaker_backup_last_verify_success',
      help: '1 when the last verification (checksum and the tool check) of the job passed, 0 when it failed.',
      labelNames: ['backup'],
    }),
    files: registrar.gauge({
      name: 'caretaker_backup_files',
      help: 'Backup files of the job currently on disk.',
      labelNames: ['backup'],
    }),
    totalBytes: registrar.gauge({
      name: 'caretaker_backup_total_bytes',
      help: 'Bytes taken by the backup files of the job.',
      labelNames: ['backup'],
    }),
  };
}

export type BackupMetrics = ReturnType<typeof backupMetrics>;

export function initJobMetrics(metrics: BackupMetrics, backup: string): void {
  for (const result of RUN_RESULTS) metrics.runs.inc({ backup, result }, 0);
}

/** Drops every label set of a job that is no longer configured. */
export function removeJobMetrics(metrics: BackupMetrics, backup: string): void {
  for (const result of RUN_RESULTS) metrics.runs.remove({ backup, result });
  for (const gauge of [metrics.lastSuccess, metrics.lastAttempt, metrics.lastDuration, metrics.lastSize, metrics.lastVerify, metrics.files, metrics.totalBytes]) {
    gauge.remove({ backup });
  }
}
