import type { Logger } from 'pino';
import type { ConditionReporter } from '../../agent/kit/conditions.js';
import { pingHeartbeat, type HeartbeatEvent } from '../../agent/kit/heartbeat.js';
import { lastMissedRun } from './catch-up.js';
import type { BackupJob } from './config.js';
import type { RunOutcome } from './run-backup.js';

export const runKey = (job: string) => `backup:${job}:run`;
export const staleKey = (job: string) => `backup:${job}:stale`;

/** A failed run fires `backup:<job>:run` with the tool's error; a success resolves it; a cancelled run says nothing either way. */
export function reportRun(conditions: ConditionReporter, job: string, outcome: RunOutcome): void {
  if (outcome.result === 'success') return conditions.resolve(runKey(job));
  if (outcome.reason === 'cancelled') return;
  conditions.fire({
    key: runKey(job),
    severity: 'critical',
    summary: `backup ${job} failed`,
    detail: `backup job ${job}: ${outcome.reason}: ${outcome.message ?? ''}`.trim(),
    item: job,
  });
}

/**
 * Stale: the schedule fired twice since `lastSuccess` (two periods of a regular schedule) with no success
 * in between. Counted in the schedule's own firings, a weekday-only or monthly schedule needs no period.
 */
export function isStale(job: Pick<BackupJob, 'schedule' | 'timezone'>, lastSuccess: Date, now: Date): boolean {
  const latest = lastMissedRun(job.schedule, job.timezone, lastSuccess, now);
  if (!latest) return false;
  return lastMissedRun(job.schedule, job.timezone, lastSuccess, new Date(latest.getTime() - 1)) !== undefined;
}

/** `since`: the last success, or when the job was configured when it has none. */
export function reportStale(conditions: ConditionReporter, job: BackupJob, since: Date, hasSucceeded: boolean, now: Date): void {
  if (!isStale(job, since, now)) return conditions.resolve(staleKey(job.name));
  conditions.fire({
    key: staleKey(job.name),
    severity: 'critical',
    summary: `no backup ${job.name} for two scheduled periods`,
    detail: hasSucceeded
      ? `backup job ${job.name}: last success ${since.toISOString()}, two scheduled runs (${job.schedule}) since then did not succeed`
      : `backup job ${job.name}: no success since it was configured at ${since.toISOString()}, two scheduled runs (${job.schedule}) did not succeed`,
    item: job.name,
  });
}

/** One ping of the job's heartbeat URL, if it has one; a ping that fails is logged (by scheme and host) and the run goes on. */
export async function pingJob(job: BackupJob, event: HeartbeatEvent, log: Logger, signal: AbortSignal, body?: string): Promise<void> {
  if (!job.heartbeat) return;
  const result = await pingHeartbeat(job.heartbeat, event, body, signal);
  if (!result.ok) log.warn({ event, err: result.error }, 'heartbeat ping failed');
}

/** What the success and fail pings carry: the outcome in one line, the tool's error on a failure. */
export function pingBody(job: string, outcome: RunOutcome): string {
  if (outcome.result === 'success') return `backup ${job}: ${outcome.file ?? ''} ${outcome.sizeBytes ?? 0} bytes in ${outcome.durationMs / 1000} s\n`;
  return `backup ${job} failed: ${outcome.reason}\n${outcome.message ?? ''}\n`;
}
