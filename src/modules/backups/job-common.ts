import cron from 'node-cron';
import { z } from 'zod';
import { duration, itemName } from '../../agent/kit/schema.js';
import { isValidTimeZone } from '../../agent/kit/zoned-time.js';

/** A cron expression as node-cron (the agent's scheduler) reads it, checked at load. */
export function cronSchedule() {
  return z.string({ error: 'expected a cron expression such as "0 2 * * *"' }).superRefine((expression, ctx) => {
    const result = cron.validateDetailed(expression);
    if (!result.valid) {
      const detail = result.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'invalid cron expression';
      ctx.addIssue({ code: 'custom', message: `'${expression}' is not a cron expression (${detail})` });
    }
  });
}

const keepCount = z.number().int().min(1).max(100_000).optional();

export const retentionSchema = z
  .strictObject({
    keepLast: keepCount,
    keepHourly: keepCount,
    keepDaily: keepCount,
    keepWeekly: keepCount,
    keepMonthly: keepCount,
    keepYearly: keepCount,
  })
  .meta({ description: 'restic-style: rules OR together; the newest verified backup is always kept; omit to keep everything' });

/** Keys every job has, whatever its type; each kind spreads these into its own strict object. */
export const jobCommon = {
  name: itemName(),
  schedule: cronSchedule(),
  timezone: z
    .string()
    .refine(isValidTimeZone, { error: 'not an IANA time zone (e.g. Europe/Berlin, UTC)' })
    .optional()
    .meta({ description: 'zone the schedule and the retention calendar are read in; default: the host zone' }),
  timeout: duration({ min: '1s' }).prefault('6h').meta({ description: 'a run still going after this is killed and counted as failed (default 6h)' }),
  retention: retentionSchema.optional(),
};
