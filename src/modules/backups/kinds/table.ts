import type { BackupJob } from '../config.js';
import { filesKind } from './files.js';
import type { BackupKind } from './kind.js';
import { postgresKind } from './postgres.js';
import { redisKind } from './redis.js';

const KINDS: { [T in BackupJob['type']]: BackupKind<Extract<BackupJob, { type: T }>> } = {
  postgres: postgresKind,
  redis: redisKind,
  files: filesKind,
};

/** The one place a job's type is looked at. */
export function kindOf(job: BackupJob): BackupKind<BackupJob> {
  return KINDS[job.type] as BackupKind<BackupJob>;
}
