import { isoWeek, zonedParts, type ZonedParts } from '../../agent/kit/zoned-time.js';

/** How many backups to keep, restic-style: each rule keeps the newest backup of its last N calendar buckets. */
export interface RetentionPolicy {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
}

export interface RetentionCandidate {
  /** A stable handle, e.g. the file name. */
  id: string;
  time: Date;
  verified: boolean;
}

export type KeepReason = 'last' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly' | 'newest-verified' | 'no-policy';

export interface RetentionDecision {
  keep: Array<{ id: string; time: Date; reasons: KeepReason[] }>;
  remove: Array<{ id: string; time: Date }>;
}

type Rule = { reason: Exclude<KeepReason, 'newest-verified' | 'no-policy'>; count: number; bucket: (parts: ZonedParts, index: number) => string };

const pad = (n: number) => String(n).padStart(2, '0');

function rulesOf(policy: RetentionPolicy): Rule[] {
  const rules: Rule[] = [];
  const add = (reason: Rule['reason'], count: number | undefined, bucket: Rule['bucket']) => {
    if (count !== undefined && count > 0) rules.push({ reason, count, bucket });
  };
  // keepLast has no calendar: every backup is its own bucket.
  add('last', policy.keepLast, (_parts, index) => String(index));
  add('hourly', policy.keepHourly, (p) => `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}`);
  add('daily', policy.keepDaily, (p) => `${p.year}-${pad(p.month)}-${pad(p.day)}`);
  add('weekly', policy.keepWeekly, (p) => {
    const { year, week } = isoWeek(p.year, p.month, p.day);
    return `${year}-W${pad(week)}`;
  });
  add('monthly', policy.keepMonthly, (p) => `${p.year}-${pad(p.month)}`);
  add('yearly', policy.keepYearly, (p) => String(p.year));
  return rules;
}

/**
 * Which backups a policy keeps. Rules OR together; each walks from newest to oldest and keeps a backup
 * when it opens a new bucket, until its count is spent (restic's `forget` semantics). Buckets are read
 * in `timeZone`, so "daily" means the user's days. Whatever the policy, the newest verified backup stays.
 * An empty policy keeps everything.
 */
export function applyRetention(candidates: readonly RetentionCandidate[], policy: RetentionPolicy, timeZone: string): RetentionDecision {
  const newestFirst = [...candidates].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? 1 : -1));
  const rules = rulesOf(policy);
  const remaining = rules.map((rule) => rule.count);
  const lastBucket: Array<string | undefined> = rules.map(() => undefined);
  const newestVerified = newestFirst.find((c) => c.verified);
  const decision: RetentionDecision = { keep: [], remove: [] };

  newestFirst.forEach((candidate, index) => {
    const parts = zonedParts(candidate.time, timeZone);
    const reasons: KeepReason[] = [];
    rules.forEach((rule, r) => {
      const bucket = rule.bucket(parts, index);
      if (bucket !== lastBucket[r] && remaining[r]! > 0) {
        reasons.push(rule.reason);
        lastBucket[r] = bucket;
        remaining[r]!--;
      }
    });
    if (rules.length === 0) reasons.push('no-policy');
    if (candidate === newestVerified && reasons.length === 0) reasons.push('newest-verified');
    if (reasons.length > 0) decision.keep.push({ id: candidate.id, time: candidate.time, reasons });
    else decision.remove.push({ id: candidate.id, time: candidate.time });
  });
  return decision;
}
