import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCalendarDue, periodKey } from '../../../src/modules/logs/calendar.js';

const utc = (iso: string) => new Date(iso).getTime();

test('daily rotation is due after midnight in the configured time zone, not in UTC', () => {
  // 23:30 UTC on the 1st is 00:30 on the 2nd in Paris (UTC+1 in winter).
  assert.equal(isCalendarDue(utc('2026-01-01T12:00:00Z'), utc('2026-01-01T23:30:00Z'), 'daily', 'Europe/Paris'), true);
  assert.equal(isCalendarDue(utc('2026-01-01T12:00:00Z'), utc('2026-01-01T23:30:00Z'), 'daily', 'UTC'), false);
  assert.equal(isCalendarDue(utc('2026-01-01T12:00:00Z'), utc('2026-01-02T00:00:00Z'), 'daily', 'UTC'), true);
});

test('hourly, weekly (ISO, Monday) and monthly boundaries', () => {
  assert.equal(isCalendarDue(utc('2026-03-10T10:59:59Z'), utc('2026-03-10T11:00:00Z'), 'hourly', 'UTC'), true);
  assert.equal(isCalendarDue(utc('2026-03-10T10:00:00Z'), utc('2026-03-10T10:59:59Z'), 'hourly', 'UTC'), false);
  // 2026-03-15 is a Sunday, 2026-03-16 a Monday.
  assert.equal(isCalendarDue(utc('2026-03-15T23:00:00Z'), utc('2026-03-16T00:01:00Z'), 'weekly', 'UTC'), true);
  assert.equal(isCalendarDue(utc('2026-03-16T00:01:00Z'), utc('2026-03-22T23:59:00Z'), 'weekly', 'UTC'), false);
  assert.equal(isCalendarDue(utc('2026-03-31T23:59:00Z'), utc('2026-04-01T00:00:00Z'), 'monthly', 'UTC'), true);
  assert.equal(isCalendarDue(utc('2026-03-01T00:00:00Z'), utc('2026-03-31T23:59:00Z'), 'monthly', 'UTC'), false);
});

test('ISO week numbers across a year end', () => {
  assert.equal(periodKey(new Date('2026-12-31T12:00:00Z'), 'weekly', 'UTC'), '2026-W53');
  assert.equal(periodKey(new Date('2027-01-03T12:00:00Z'), 'weekly', 'UTC'), '2026-W53');
  assert.equal(periodKey(new Date('2027-01-04T12:00:00Z'), 'weekly', 'UTC'), '2027-W01');
  assert.equal(periodKey(new Date('2025-12-29T12:00:00Z'), 'weekly', 'UTC'), '2026-W01');
});

test('a missed period is caught up, and a clock going backwards never rotates', () => {
  assert.equal(isCalendarDue(utc('2026-01-01T12:00:00Z'), utc('2026-01-09T12:00:00Z'), 'daily', 'UTC'), true);
  assert.equal(isCalendarDue(utc('2026-01-02T12:00:00Z'), utc('2026-01-01T12:00:00Z'), 'daily', 'UTC'), false);
});

test('DST: the 25-hour day in New York is still one day', () => {
  // 2026-11-01: clocks go back at 02:00 EDT (06:00Z); the local day runs from 04:00Z to 05:00Z next day.
  assert.equal(isCalendarDue(utc('2026-11-01T04:30:00Z'), utc('2026-11-02T04:59:00Z'), 'daily', 'America/New_York'), false);
  assert.equal(isCalendarDue(utc('2026-11-01T04:30:00Z'), utc('2026-11-02T05:00:00Z'), 'daily', 'America/New_York'), true);
});
