import type { LabelSet } from '../../agent/kit/item-set.js';
import type { MetricsRegistrar } from '../../agent/kit/metrics.js';

export const RUN_RESULTS = ['success', 'failure', 'skipped'] as const;
export type RunResult = (typeof RUN_RESULTS)[number];

/** Declared once per process so counters survive reloads; values are set as runs happen, never at scrape. */
export function declareMetrics(registrar: MetricsRegistrar) {
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
    drillLastSuccess: registrar.gauge({
      name: 'caretaker_backup_drill_last_success_timestamp_seconds',
      help: 'Unix time the last restore drill of the job passed (its newest backup restored and matched what was dumped).',
      labelNames: ['backup'],
    }),
    drillRuns: registrar.counter({
      name: 'caretaker_backup_drill_runs_total',
      help: 'Restore drills by result; skipped counts drills that could not run on this host (redis-server missing).',
      labelNames: ['backup', 'result'],
    }),
    remoteLastSuccess: registrar.gauge({
      name: 'caretaker_backup_remote_last_success_timestamp_seconds',
      help: 'Unix time the last off-site copy (restic backup) of the job succeeded.',
      labelNames: ['backup'],
    }),
    remoteAddedBytes: registrar.gauge({
      name: 'caretaker_backup_remote_added_bytes',
      help: 'New bytes the last off-site copy of the job added to the restic repository after deduplication (restic 0.14 counts them before compression).',
      labelNames: ['backup'],
    }),
    remoteRuns: registrar.counter({
      name: 'caretaker_backup_remote_runs_total',
      help: 'Off-site copies (restic backup of a verified local backup) by result.',
      labelNames: ['backup', 'result'],
    }),
    remoteCheck: registrar.gauge({
      name: 'caretaker_backup_remote_check_success',
      help: '1 when the last scheduled restic check of the job repository passed, 0 when it failed.',
      labelNames: ['backup'],
    }),
  };
}

export type BackupsMetrics = ReturnType<typeof declareMetrics>;

export const REMOTE_RESULTS = ['success', 'failure'] as const;

/**
 * The label sets a job owns while it is configured: the run counters start at 0, the gauges at their first
 * value; the remote ones only for a job with an off-site copy.
 */
export function itemLabelSets(metrics: BackupsMetrics, backup: string, remote: boolean): LabelSet[] {
  const gauges = [metrics.lastSuccess, metrics.lastAttempt, metrics.lastDuration, metrics.lastSize, metrics.lastVerify, metrics.files, metrics.totalBytes];
  const sets: LabelSet[] = [
    ...RUN_RESULTS.map((result) => ({ metric: metrics.runs, labels: { backup, result }, zero: true })),
    ...gauges.map((metric) => ({ metric, labels: { backup } })),
  ];
  if (!remote) return sets;
  return [
    ...sets,
    ...REMOTE_RESULTS.map((result) => ({ metric: metrics.remoteRuns, labels: { backup, result }, zero: true })),
    ...[metrics.remoteLastSuccess, metrics.remoteAddedBytes, metrics.remoteCheck].map((metric) => ({ metric, labels: { backup } })),
  ];
}

/** The label sets of a job's restore drill, while the job has one. */
export function drillLabelSets(metrics: BackupsMetrics, job: { name: string; drill?: unknown }): LabelSet[] {
  if (!job.drill) return [];
  return [
    // The same results as a backup run's: skipped is a drill that could not run here.
    ...RUN_RESULTS.map((result) => ({ metric: metrics.drillRuns, labels: { backup: job.name, result }, zero: true })),
    { metric: metrics.drillLastSuccess, labels: { backup: job.name } },
  ];
}
