import { z } from 'zod';
import { cronExpression } from '../../agent/kit/cron.js';
import { heartbeatUrl } from '../../agent/kit/heartbeat.js';
import { duration, itemName } from '../../agent/kit/schema.js';
import { timeZone } from '../../agent/kit/zoned-time.js';

const keepCount = (what: string) => z.number().int().min(1).max(100_000).optional().meta({ description: what });

export const retentionSchema = z
  .strictObject({
    keepLast: keepCount('keep the N newest backups'),
    keepHourly: keepCount('keep the newest backup of each of the last N hours that have one'),
    keepDaily: keepCount('keep the newest backup of each of the last N days that have one'),
    keepWeekly: keepCount('keep the newest backup of each of the last N ISO weeks that have one'),
    keepMonthly: keepCount('keep the newest backup of each of the last N months that have one'),
    keepYearly: keepCount('keep the newest backup of each of the last N years that have one'),
  })
  .meta({ description: 'restic-style: rules OR together; the newest verified backup is always kept; omit to keep everything' });

/** Keys every job has, whatever its type; each kind spreads these into its own strict object. */
export const jobCommon = {
  name: itemName().meta({ description: 'names the job in routes, metrics and its directory <dir>/<name>/' }),
  schedule: cronExpression(),
  timezone: timeZone('zone the schedule and the retention calendar are read in'),
  timeout: duration({ min: '1s' }).prefault('6h').meta({ description: 'a run still going after this is killed and counted as failed (default 6h)' }),
  retention: retentionSchema.optional(),
  heartbeat: heartbeatUrl()
    .optional()
    .meta({ description: 'healthchecks.io-style URL pinged around each run: <url>/start when it begins, <url> on success, <url>/fail with the error as body; shown as scheme://host only' }),
};
