import { z } from 'zod';

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
