import { isoWeek, zonedParts } from '../../agent/kit/zoned-time.js';
import type { RotateEvery } from './config.js';

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** The calendar period an instant falls in, as a string that sorts in time order. */
export function periodKey(at: Date, every: RotateEvery, timeZone: string): string {
  const p = zonedParts(at, timeZone);
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
