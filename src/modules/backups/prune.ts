import type { Logger } from 'pino';
import { deleteBackup, listBackups, type BackupEntry } from './catalog.js';
import type { BackupJob } from './config.js';
import { kindOf } from './kinds/table.js';
import { applyRetention, type KeepReason } from './retention.js';

export interface PrunePlan {
  keep: Array<{ entry: BackupEntry; reasons: KeepReason[] }>;
  remove: BackupEntry[];
}

/** What the job's retention keeps among `entries`; a job without a retention policy keeps everything. */
export function planPrune(job: BackupJob, entries: readonly BackupEntry[]): PrunePlan {
  const byName = new Map(entries.map((e) => [e.file, e]));
  const candidates = entries.map((e) => ({ id: e.file, time: e.time, verified: e.verified }));
  const decision = applyRetention(candidates, job.retention ?? {}, job.timezone);
  return {
    keep: decision.keep.map((k) => ({ entry: byName.get(k.id)!, reasons: k.reasons })),
    remove: decision.remove.map((r) => byName.get(r.id)!),
  };
}

/** Applies retention on disk; resolves with the backups left, newest first. */
export async function pruneJob(job: BackupJob, dir: string, log: Logger): Promise<BackupEntry[]> {
  const entries = await listBackups(dir, job.name, kindOf(job).extensions);
  const plan = planPrune(job, entries);
  for (const entry of plan.remove) {
    await deleteBackup(entry);
    log.info({ file: entry.file }, 'old backup removed');
  }
  const removed = new Set(plan.remove);
  return entries.filter((e) => !removed.has(e));
}
