import { z } from 'zod';
import { namedList, size } from '../../agent/kit/schema.js';
import { filesJobSchema } from './kinds/files.js';
import { postgresJobSchema } from './kinds/postgres.js';
import { redisJobSchema } from './kinds/redis.js';
import { remoteSchema } from './remote/config.js';
import { checkDrillSources } from './drill/config.js';

export const backupJobSchema = z.discriminatedUnion('type', [postgresJobSchema, redisJobSchema, filesJobSchema]);

export const configSchema = z
  .strictObject({
    dir: z.string().default('/var/backups/caretaker').meta({ description: 'backups go to <dir>/<job>/' }),
    minFreeSpace: size().optional().meta({ description: 'a run is refused while the backup filesystem has less free space than this' }),
    remote: remoteSchema.optional().meta({ description: "off-site copies through restic for every job without its own remote (a job's remote: false opts out)" }),
    jobs: namedList(backupJobSchema).default([]).meta({ description: 'scheduled backups, each of one PostgreSQL database, one Redis server or a set of files (type)' }),
  })
  .superRefine(checkDrillSources)
  .meta({ description: 'Scheduled PostgreSQL, Redis and file backups with retention, verification and restore.' });

export type BackupsConfig = z.output<typeof configSchema>;
export type BackupJob = z.output<typeof backupJobSchema>;
