import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lastMissedRun } from '../../../src/modules/backups/catch-up.js';

const d = (iso: string) => new Date(iso);
const iso = (date: Date | undefined) => date?.toISOString();

describe('catch-up of a missed run', () => {
  it('finds the latest scheduled time between the last run and now', () => {
    assert.equal(iso(lastMissedRun('0 2 * * *', 'UTC', d('2024-05-01T02:00:05Z'), d('2024-05-03T09:00:00Z'))), '2024-05-03T02:00:00.000Z');
  });

  it('finds nothing when the schedule did not fire since the last run', () => {
    assert.equal(lastMissedRun('0 2 * * *', 'UTC', d('2024-05-03T02:00:05Z'), d('2024-05-04T01:59:00Z')), undefined);
  });

  it('counts a run that fired exactly now', () => {
    assert.equal(iso(lastMissedRun('0 2 * * *', 'UTC', d('2024-05-03T02:00:05Z'), d('2024-05-04T02:00:00Z'))), '2024-05-04T02:00:00.000Z');
  });

  it('reads the schedule in the job time zone', () => {
    // 02:00 in New York (EDT, UTC-4) is 06:00 UTC.
    assert.equal(iso(lastMissedRun('0 2 * * *', 'America/New_York', d('2024-05-01T07:00:00Z'), d('2024-05-02T05:59:00Z'))), undefined);
    assert.equal(iso(lastMissedRun('0 2 * * *', 'America/New_York', d('2024-05-01T07:00:00Z'), d('2024-05-02T06:00:00Z'))), '2024-05-02T06:00:00.000Z');
  });

  it('survives DST: the skipped hour never fires, the repeated one does', () => {
    // Berlin spring forward 2024-03-31: 02:30 does not exist that day.
    assert.equal(iso(lastMissedRun('30 2 * * *', 'Europe/Berlin', d('2024-03-30T02:00:00Z'), d('2024-03-31T12:00:00Z'))), undefined);
    // Autumn 2024-10-27: 02:30 happens twice (00:30 and 01:30 UTC); the later one is the latest run.
    assert.equal(iso(lastMissedRun('30 2 * * *', 'Europe/Berlin', d('2024-10-26T12:00:00Z'), d('2024-10-27T12:00:00Z'))), '2024-10-27T01:30:00.000Z');
  });

  it('handles monthly schedules, month ends and the L token', () => {
    assert.equal(iso(lastMissedRun('0 3 1 * *', 'UTC', d('2024-01-15T00:00:00Z'), d('2024-03-20T00:00:00Z'))), '2024-03-01T03:00:00.000Z');
    assert.equal(iso(lastMissedRun('0 23 L * *', 'UTC', d('2024-01-01T00:00:00Z'), d('2024-03-20T00:00:00Z'))), '2024-02-29T23:00:00.000Z');
  });

  it('handles a yearly schedule across the year end and weekday fields', () => {
    assert.equal(iso(lastMissedRun('0 0 1 1 *', 'UTC', d('2023-06-01T00:00:00Z'), d('2024-02-01T00:00:00Z'))), '2024-01-01T00:00:00.000Z');
    // Sundays at 04:00; 2024-06-09 is a Sunday.
    assert.equal(iso(lastMissedRun('0 4 * * 0', 'UTC', d('2024-06-01T00:00:00Z'), d('2024-06-12T00:00:00Z'))), '2024-06-09T04:00:00.000Z');
  });

  it('honours a seconds field', () => {
    assert.equal(iso(lastMissedRun('15 0 2 * * *', 'UTC', d('2024-05-01T00:00:00Z'), d('2024-05-01T02:00:10Z'))), undefined);
    assert.equal(iso(lastMissedRun('15 0 2 * * *', 'UTC', d('2024-05-01T00:00:00Z'), d('2024-05-01T02:00:20Z'))), '2024-05-01T02:00:15.000Z');
  });
});
