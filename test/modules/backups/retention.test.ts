import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyRetention, type RetentionCandidate } from '../../../src/modules/backups/retention.js';

const at = (iso: string, verified = true): RetentionCandidate => ({ id: iso, time: new Date(iso), verified });

/** One backup every `stepHours` from `startIso` (UTC), count of them. */
function series(startIso: string, stepHours: number, count: number): RetentionCandidate[] {
  const start = Date.parse(startIso);
  return Array.from({ length: count }, (_, i) => at(new Date(start + i * stepHours * 3_600_000).toISOString()));
}

const kept = (candidates: RetentionCandidate[], policy: Parameters<typeof applyRetention>[1], tz = 'UTC') =>
  applyRetention(candidates, policy, tz).keep.map((k) => k.id).sort();

describe('retention', () => {
  it('keeps everything without a policy', () => {
    const all = series('2024-01-01T00:00:00Z', 6, 10);
    assert.equal(applyRetention(all, {}, 'UTC').remove.length, 0);
  });

  it('keepLast keeps the newest N', () => {
    const all = series('2024-01-01T00:00:00Z', 1, 10);
    assert.deepEqual(kept(all, { keepLast: 3 }), all.slice(-3).map((c) => c.id));
  });

  it('keepDaily keeps the newest backup of each of the last N days', () => {
    const all = series('2024-01-01T00:00:00Z', 6, 4 * 5); // 5 days, 4 a day
    assert.deepEqual(kept(all, { keepDaily: 3 }), ['2024-01-03T18:00:00.000Z', '2024-01-04T18:00:00.000Z', '2024-01-05T18:00:00.000Z']);
  });

  it('rules OR together and a backup kept by two rules counts once', () => {
    const all = series('2024-01-01T00:00:00Z', 6, 4 * 5);
    const decision = applyRetention(all, { keepLast: 2, keepDaily: 2 }, 'UTC');
    assert.deepEqual(decision.keep.map((k) => [k.id, k.reasons]), [
      ['2024-01-05T18:00:00.000Z', ['last', 'daily']],
      ['2024-01-05T12:00:00.000Z', ['last']],
      ['2024-01-04T18:00:00.000Z', ['daily']],
    ]);
    assert.equal(decision.keep.length + decision.remove.length, all.length);
  });

  it('reads days in the job time zone, not UTC', () => {
    // 23:30 UTC on Jan 1 is already Jan 2 in Berlin: both backups fall on the same Berlin day.
    const all = [at('2024-01-01T23:30:00Z'), at('2024-01-02T10:00:00Z')];
    assert.deepEqual(kept(all, { keepDaily: 5 }, 'UTC'), ['2024-01-01T23:30:00Z', '2024-01-02T10:00:00Z']);
    assert.deepEqual(kept(all, { keepDaily: 5 }, 'Europe/Berlin'), ['2024-01-02T10:00:00Z']);
  });

  it('handles the DST change days (23 h and 25 h days) as one day each', () => {
    // Berlin: 2024-03-31 has 23 hours, 2024-10-27 has 25; hourly backups across both.
    const spring = series('2024-03-30T23:00:00Z', 1, 23); // exactly the 23 local hours of Mar 31
    assert.deepEqual(kept(spring, { keepDaily: 10 }, 'Europe/Berlin'), [spring.at(-1)!.id]);
    const autumn = series('2024-10-26T22:00:00Z', 1, 25); // the 25 local hours of Oct 27
    assert.deepEqual(kept(autumn, { keepDaily: 10 }, 'Europe/Berlin'), [autumn.at(-1)!.id]);
    // The repeated 02:00 hour is one hourly bucket: 25 backups, 24 distinct wall-clock hours.
    assert.equal(kept(autumn, { keepHourly: 100 }, 'Europe/Berlin').length, 24);
  });

  it('month ends and leap days open new monthly buckets', () => {
    const all = [at('2024-01-31T22:00:00Z'), at('2024-02-29T22:00:00Z'), at('2024-03-01T01:00:00Z'), at('2024-03-31T23:59:59Z')];
    assert.deepEqual(kept(all, { keepMonthly: 12 }, 'UTC'), ['2024-01-31T22:00:00Z', '2024-02-29T22:00:00Z', '2024-03-31T23:59:59Z']);
  });

  it('year ends: yearly buckets, and ISO weeks that straddle the new year', () => {
    const all = [at('2020-12-31T12:00:00Z'), at('2021-01-01T12:00:00Z'), at('2021-01-03T12:00:00Z'), at('2021-01-04T12:00:00Z')];
    assert.deepEqual(kept(all, { keepYearly: 5 }), ['2020-12-31T12:00:00Z', '2021-01-04T12:00:00Z']);
    // 2020-12-31, 2021-01-01 and 2021-01-03 are all ISO week 2020-W53; 2021-01-04 opens 2021-W01.
    assert.deepEqual(kept(all, { keepWeekly: 5 }), ['2021-01-03T12:00:00Z', '2021-01-04T12:00:00Z']);
  });

  it('never removes the newest verified backup, even when no rule keeps it', () => {
    const all = [at('2024-01-01T00:00:00Z', true), at('2024-01-02T00:00:00Z', false), at('2024-01-03T00:00:00Z', false)];
    const decision = applyRetention(all, { keepLast: 1 }, 'UTC');
    assert.deepEqual(decision.keep.map((k) => [k.id, k.reasons]), [
      ['2024-01-03T00:00:00Z', ['last']],
      ['2024-01-01T00:00:00Z', ['newest-verified']],
    ]);
  });

  it('keeps exactly what restic would over a year of daily backups', () => {
    const all = series('2023-01-01T02:00:00Z', 24, 365);
    const decision = applyRetention(all, { keepDaily: 7, keepWeekly: 4, keepMonthly: 6 }, 'UTC');
    // 7 dailies (Dec 25-31); 4 weeklies, the newest of each ISO week: Dec 31 (W52, already kept), Dec 24, 17, 10;
    // 6 monthlies, the last day of each month: Dec 31 (already kept), Nov 30, Oct 31, Sep 30, Aug 31, Jul 31.
    const ids = decision.keep.map((k) => k.id.slice(0, 10));
    assert.deepEqual(ids, [
      '2023-12-31', '2023-12-30', '2023-12-29', '2023-12-28', '2023-12-27', '2023-12-26', '2023-12-25',
      '2023-12-24', '2023-12-17', '2023-12-10',
      '2023-11-30', '2023-10-31', '2023-09-30', '2023-08-31', '2023-07-31',
    ]);
  });
});
