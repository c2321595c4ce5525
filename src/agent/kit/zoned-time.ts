import { readFileSync, realpathSync } from 'node:fs';
import { z } from 'zod';

/** Wall-clock parts of an instant in an IANA time zone: the calendar that backup retention, catch-up and calendar log rotation reason in. */
export interface ZonedParts {
  year: number;
  /** 1-12 */
  month: number;
  /** 1-31 */
  day: number;
  /** 0-23 */
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday, as cron counts. */
  weekday: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();
// The first Intl.DateTimeFormat maps ICU's locale, calendar and zone data: 7-8 MiB of RSS an agent keeps
// for good. UTC and the host zone, the zones nearly every server runs in, are read from Date instead.
const UTC_NAMES = new Set(['UTC', 'Etc/UTC', 'UCT', 'Etc/UCT', 'Universal', 'Etc/Universal', 'Zulu', 'Etc/Zulu', 'GMT', 'Etc/GMT', 'GMT0', 'Etc/GMT0', 'GMT+0', 'Etc/GMT+0', 'GMT-0', 'Etc/GMT-0', 'Greenwich', 'Etc/Greenwich']);
const ZONEINFO = '/usr/share/zoneinfo/';

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

function intlParts(date: Date, timeZone: string): ZonedParts {
  const parts: Record<string, string> = {};
  for (const part of formatterFor(timeZone).formatToParts(date)) parts[part.type] = part.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS[parts.weekday!] ?? 0,
  };
}

export function zonedParts(date: Date, timeZone: string): ZonedParts {
  if (UTC_NAMES.has(timeZone)) {
    return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate(), hour: date.getUTCHours(), minute: date.getUTCMinutes(), second: date.getUTCSeconds(), weekday: date.getUTCDay() };
  }
  // Date's local time is the host zone: V8 asks ICU for it from TZ and /etc/localtime, as systemTimeZone does.
  if (timeZone === systemTimeZone()) {
    return { year: date.getFullYear(), month: date.getMonth() + 1, day: date.getDate(), hour: date.getHours(), minute: date.getMinutes(), second: date.getSeconds(), weekday: date.getDay() };
  }
  return intlParts(date, timeZone);
}

/** ISO 8601 week-numbering year and week of a calendar date (weeks start on Monday). */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7;
  // The Thursday of this week decides which year the week belongs to.
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const weekYear = date.getUTCFullYear();
  const firstDay = Date.UTC(weekYear, 0, 1);
  const week = Math.ceil(((date.getTime() - firstDay) / 86_400_000 + 1) / 7);
  return { year: weekYear, week };
}

export function isValidTimeZone(timeZone: string): boolean {
  if (UTC_NAMES.has(timeZone) || timeZone === systemTimeZone()) return true;
  // ICU's list of canonical zones costs under 1 MiB, a formatter 8; only an alias (US/Pacific) needs one.
  if (Intl.supportedValuesOf('timeZone').includes(timeZone)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The tz database name of a zoneinfo file (a path, or a name relative to /usr/share/zoneinfo), or undefined. */
function zoneOfFile(file: string): string | undefined {
  try {
    const real = realpathSync(file.startsWith('/') ? file : ZONEINFO + file);
    const name = real.startsWith(ZONEINFO) ? real.slice(ZONEINFO.length).replace(/^(posix|right)\//, '') : undefined;
    // A TZif file starts with its magic; anything else (a POSIX rule such as EST5EDT4 that happens to name no file) is left to ICU.
    if (!name || readFileSync(real).subarray(0, 4).toString('latin1') !== 'TZif') return undefined;
    return UTC_NAMES.has(name) ? 'UTC' : name;
  } catch {
    return undefined;
  }
}

let hostZone: { tz: string | undefined; zone: string } | undefined;

/** The zone the host runs in (TZ, else /etc/localtime): what cron, `date` and the journal read times in. */
export function systemTimeZone(): string {
  // Node applies a change of TZ at once, so the answer is kept per TZ; /etc/localtime is read once, as V8 does.
  const tz = process.env.TZ;
  if (!hostZone || hostZone.tz !== tz) {
    const named = tz === undefined ? zoneOfFile('/etc/localtime') : zoneOfFile(tz.replace(/^:/, ''));
    hostZone = { tz, zone: named ?? Intl.DateTimeFormat().resolvedOptions().timeZone };
  }
  return hostZone.zone;
}

/**
 * The zone a module's calendar is read in (a schedule, retention buckets, calendar rotation), one default for
 * every module: the host zone, filled in at load so the rest of the module always has a zone.
 * `purpose` starts the key's description.
 */
export function timeZone(purpose: string) {
  return z
    .string({ error: 'expected an IANA time zone such as Europe/Berlin or UTC' })
    .refine(isValidTimeZone, { error: 'not an IANA time zone (e.g. Europe/Berlin, UTC)' })
    .optional()
    .transform((zone) => zone ?? systemTimeZone())
    .meta({ description: `${purpose}; an IANA zone such as Europe/Berlin or UTC; default: the host zone` });
}
