import { cronFields, type CronFields } from '../../agent/kit/cron.js';
import { zonedParts, type ZonedParts } from '../../agent/kit/zoned-time.js';

const MINUTE = 60_000;
/** How far back a missed run is looked for; a schedule rarer than yearly is not caught up. */
const LOOKBACK_MS = 366 * 86_400_000;

function lastDayOfMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

// Numeric values are exact. Of the special tokens only `L` (last day) is read; the rarer ones
// (`15W`, `L-3`, `5L`, `1#2`) count as a match, which at worst runs one extra catch-up backup.
function dayMatches(fields: CronFields, p: ZonedParts): boolean {
  if (!fields.month.includes(p.month)) return false;
  const domOk = fields.dayOfMonth.some((v) =>
    typeof v === 'number' ? v === p.day : v.toUpperCase() === 'L' ? p.day === lastDayOfMonth(p.year, p.month) : true,
  );
  const dowOk = fields.dayOfWeek.some((v) => (typeof v === 'number' ? v % 7 === p.weekday : true));
  return domOk && dowOk;
}

/**
 * The latest time `expression` fired in (`after`, `now`], read in `timeZone`, or undefined when it did not:
 * the run a stopped agent missed (systemd's `Persistent=`). Walks back from `now` an hour at a time outside
 * matching hours, so a year of history costs a few thousand steps.
 */
export function lastMissedRun(expression: string, timeZone: string, after: Date, now: Date): Date | undefined {
  const fields = cronFields(expression);
  const floor = Math.max(after.getTime(), now.getTime() - LOOKBACK_MS);
  const seconds = [...fields.second].sort((a, b) => b - a);
  let t = Math.floor(now.getTime() / MINUTE) * MINUTE;
  while (t + 59_999 > floor) {
    const p = zonedParts(new Date(t), timeZone);
    if (!dayMatches(fields, p) || !fields.hour.includes(p.hour)) {
      // Back to minute 59 of the previous wall-clock hour (DST shifts are whole hours).
      t -= (p.minute + 1) * MINUTE;
      continue;
    }
    if (fields.minute.includes(p.minute)) {
      const second = seconds.find((s) => t + s * 1000 <= now.getTime() && t + s * 1000 > floor);
      if (second !== undefined) return new Date(t + second * 1000);
    }
    t -= MINUTE;
  }
  return undefined;
}
