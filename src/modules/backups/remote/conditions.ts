import type { ConditionReporter } from '../../../agent/kit/conditions.js';
import type { RemoteOutcome } from './offsite.js';

export const remoteKey = (job: string) => `backup:${job}:remote`;
export const remoteCheckKey = (job: string) => `backup:${job}:remote-check`;

/** A failed off-site copy fires `backup:<job>:remote` with restic's cause (the local backup is fine); the next good copy resolves it. */
export function reportRemote(conditions: ConditionReporter, job: string, outcome: RemoteOutcome): void {
  if (outcome.result === 'success') return conditions.resolve(remoteKey(job));
  conditions.fire({
    key: remoteKey(job),
    severity: 'critical',
    summary: `off-site copy of backup ${job} failed`,
    detail: `backup job ${job}: local ok, remote failed: ${outcome.message ?? ''}`.trim(),
    item: job,
  });
}
