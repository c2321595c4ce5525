import { dirname, join } from 'node:path';
import { describeError } from '../../agent/kit/errors.js';
import type { BackupJob } from './config.js';
import { kindOf } from './kinds/table.js';
import { sha256File, sha256Of } from './digest.js';
import type { CompanionRecord } from './manifest.js';

export interface VerifyResult {
  ok: boolean;
  /** What was checked, e.g. `sha256 + pg_restore --list`. */
  method: string;
  sha256: string;
  message?: string;
}

/**
 * Re-reads a backup (file or directory): its sha256 must match the one recorded when it was written (when known), and the
 * kind's own tool must accept it. A failed check is a result, not an exception.
 */
export async function verifyBackupFile(job: BackupJob, path: string, expectedSha256: string | undefined, signal: AbortSignal): Promise<VerifyResult> {
  const sha256 = await sha256Of(path, signal);
  if (expectedSha256 !== undefined && sha256 !== expectedSha256) {
    return { ok: false, method: 'sha256', sha256, message: `sha256 mismatch: recorded ${expectedSha256}, file has ${sha256}` };
  }
  return checkBackupFile(job, path, sha256, signal);
}

/** The kind's own check of a backup whose sha256 is known (just read back from it): a verification without a second read for the digest. */
export async function checkBackupFile(job: BackupJob, path: string, sha256: string, signal: AbortSignal): Promise<VerifyResult> {
  try {
    const method = await kindOf(job).check(job, path, signal);
    return { ok: true, method: `sha256 + ${method}`, sha256 };
  } catch (err) {
    return { ok: false, method: 'sha256 + kind check', sha256, message: describeError(err) };
  }
}

/**
 * Re-checks the companions a backup's manifest records (pg_dumpall globals): each must exist, match its
 * sha256 and pass its own check. Resolves with the first problem, or undefined when all pass.
 */
export async function verifyCompanions(job: BackupJob, backupPath: string, records: readonly CompanionRecord[], signal: AbortSignal): Promise<string | undefined> {
  const known = kindOf(job).companions ?? [];
  for (const record of records) {
    const path = join(dirname(backupPath), record.file);
    const companion = known.find((c) => c.suffix === record.suffix);
    if (!companion) return `${record.file}: a ${job.type} job has no companion '${record.suffix}'`;
    try {
      const sha256 = await sha256File(path, signal);
      if (sha256 !== record.sha256) return `${record.file}: sha256 mismatch: recorded ${record.sha256}, file has ${sha256}`;
      await companion.check(job, path, signal);
    } catch (err) {
      return `${record.file}: ${describeError(err)}`;
    }
  }
  return undefined;
}
