import type { RotateEvery } from './config.js';

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localParts(at: Date, timeZone: string): LocalParts {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(at)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour! };
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** ISO 8601 week-numbering year and week of a civil date (weeks start on Monday). */
function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = (date.getUTCDay() + 6) % 7; // Monday = 0
  date.setUTCDate(date.getUTCDate() - weekday + 3); // the Thursday of this week decides the year
  const weekYear = date.getUTCFullYear();
  const week = 1 + Math.floor((date.getTime() - Date.UTC(weekYear, 0, 1)) / 86_400_000 / 7);
  return { year: weekYear, week };
}

/** The calendar period an instant falls in, as a string that sorts in time order. */
export function periodKey(at: Date, every: RotateEvery, timeZone: string): string {
  const p = localParts(at, timeZone);
  switch (every) {
    case 'hourly':
      return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}`;
    case 'daily':
      return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}`;
    case 'weekly': {
      const w = isoWeek(p.year, p.month, p.day);
      return `${pad(w.year, 4)}-W${pad(w.week)}`;
    }
    case 'monthly':
      return `${pad(p.year, 4)}-${pad(p.month)}`;
  }
}

/**
 * A calendar rotation is due once `now` is in a later period than the last rotation; a period that
 * passed while the agent was down is therefore caught up at the next check. A clock that went
 * backwards never triggers one.
 */
export function isCalendarDue(lastMs: number, nowMs: number, every: RotateEvery, timeZone: string): boolean {
  return periodKey(new Date(nowMs), every, timeZone) > periodKey(new Date(lastMs), every, timeZone);
}
