import cron from 'node-cron';
import { z } from 'zod';
import { zonedParts, type ZonedParts } from './zoned-time.js';

/** Why `expression` is not a cron expression the agent's scheduler (node-cron) reads, or undefined when it is one. */
export function cronProblem(expression: string): string | undefined {
  const result = cron.validateDetailed(expression);
  if (result.valid) return undefined;
  return result.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'invalid cron expression';
}

/** A schedule field: a cron expression checked at load the way the scheduler will read it. */
export function cronExpression() {
  return z
    .string({ error: 'expected a cron expression such as "0 2 * * *"' })
    .superRefine((expression, ctx) => {
      const problem = cronProblem(expression);
      if (problem) ctx.addIssue({ code: 'custom', message: `'${expression}' is not a cron expression (${problem})` });
    })
    .meta({ description: 'cron expression: minute hour day-of-month month day-of-week, with an optional leading seconds field (e.g. "0 2 * * *")' });
}

/** What each field of an expression matches: numbers, and special tokens such as `L` as written. */
export interface CronFields {
  second: number[];
  minute: number[];
  hour: number[];
  dayOfMonth: Array<number | string>;
  month: number[];
  dayOfWeek: Array<number | string>;
}

/** The fields of a valid expression as the scheduler reads them, for reasoning about its past runs. */
export function cronFields(expression: string): CronFields {
  return cron.parse(expression) as CronFields;
}

const MAX_DAYS = 366 * 30;

function lastDayOfMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay();
}

/** The weekday nearest to `target` in the same month (`15W`), as node-cron reads it. */
function nearestWeekday(year: number, month: number, target: number): number {
  const last = lastDayOfMonth(year, month);
  if (target < 1 || target > last) return -1;
  const weekday = weekdayOf(year, month, target);
  if (weekday === 6) return target === 1 ? target + 2 : target - 1;
  if (weekday === 0) return target === last ? target - 2 : target + 1;
  return target;
}

function dayOfMonthMatches(field: CronFields['dayOfMonth'], year: number, month: number, day: number): boolean {
  return field.some((value) => {
    if (value === day) return true;
    if (typeof value === 'number') return false;
    const last = lastDayOfMonth(year, month);
    if (value === 'L') return day === last;
    const nearest = /^(\d{1,2}|L)W$/.exec(value);
    if (nearest) return nearestWeekday(year, month, nearest[1] === 'L' ? last : Number(nearest[1])) === day;
    const beforeLast = /^L-(\d{1,2})$/.exec(value);
    return beforeLast !== null && last - Number(beforeLast[1]) === day;
  });
}

function dayOfWeekMatches(field: CronFields['dayOfWeek'], year: number, month: number, day: number): boolean {
  const weekday = weekdayOf(year, month, day);
  return field.some((value) => {
    if (value === weekday) return true;
    if (typeof value === 'number') return false;
    const nth = /^([0-7])#([1-5])$/.exec(value);
    if (nth) return Number(nth[1]) % 7 === weekday && Math.floor((day - 1) / 7) + 1 === Number(nth[2]);
    const last = /^([0-7])L$/i.exec(value);
    return last !== null && Number(last[1]) % 7 === weekday && day + 7 > lastDayOfMonth(year, month);
  });
}

/** A wall-clock reading as if it were UTC, to compare readings and find a zone's offset. */
function wallMs(p: ZonedParts): number {
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
}

/**
 * The instant `wall` names in `timeZone`, resolved as node-cron resolves it: a time a DST change skips
 * lands after the gap, a repeated one on whichever pass its offset reads first.
 */
function instantOf(wall: number, timeZone: string): number {
  const offsetAt = (at: number) => wallMs(zonedParts(new Date(at), timeZone)) - Math.floor(at / 1000) * 1000;
  const readsBack = (at: number) => wallMs(zonedParts(new Date(at), timeZone)) === wall;
  const first = wall - offsetAt(wall);
  const second = wall - offsetAt(first);
  if (first === second || readsBack(first)) return first;
  return readsBack(second) ? second : Math.max(first, second);
}

function fires(fields: CronFields, p: ZonedParts): boolean {
  return fields.second.includes(p.second) && fields.minute.includes(p.minute) && fields.hour.includes(p.hour) && fields.month.includes(p.month) && dayOfMonthMatches(fields.dayOfMonth, p.year, p.month, p.day) && dayOfWeekMatches(fields.dayOfWeek, p.year, p.month, p.day);
}

/**
 * The first time after `after` (whole seconds) that `expression` fires, read in `timeZone`: day of month
 * and day of week must both match, as node-cron reads them. UTC and the host zone need no Intl (see zoned-time.ts).
 */
export function nextCronRun(expression: string, after: Date, timeZone: string): Date {
  const fields = cronFields(expression);
  const ascending = (values: number[]) => [...values].sort((a, b) => a - b);
  const [hours, minutes, seconds] = [ascending(fields.hour), ascending(fields.minute), ascending(fields.second)];
  const base = Math.floor(after.getTime() / 1000) * 1000;
  const start = zonedParts(new Date(base), timeZone);
  const startSecondOfDay = start.hour * 3600 + start.minute * 60 + start.second;
  const date = new Date(Date.UTC(start.year, start.month - 1, start.day));
  for (let i = 0; i < MAX_DAYS; i++, date.setUTCDate(date.getUTCDate() + 1)) {
    const [year, month, day] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
    if (!fields.month.includes(month) || !dayOfMonthMatches(fields.dayOfMonth, year, month, day) || !dayOfWeekMatches(fields.dayOfWeek, year, month, day)) continue;
    for (const hour of hours) {
      if (i === 0 && hour < start.hour) continue;
      for (const minute of minutes) {
        for (const second of seconds) {
          if (i === 0 && hour * 3600 + minute * 60 + second <= startSecondOfDay) continue;
          const at = instantOf(Date.UTC(year, month - 1, day, hour, minute, second), timeZone);
          if (at > base && fires(fields, zonedParts(new Date(at), timeZone))) return new Date(at);
        }
      }
    }
  }
  throw new Error(`'${expression}' does not fire within ${MAX_DAYS / 366} years`);
}
