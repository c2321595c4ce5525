import { describeError } from '../../agent/kit/errors.js';
import type { BackupJob } from './config.js';
import { kindOf } from './kinds/all.js';
import { sha256File } from './sink.js';

export interface VerifyResult {
  ok: boolean;
  /** What was checked, e.g. `sha256 + pg_restore --list`. */
  method: string;
  sha256: string;
  message?: string;
}

/**
 * Re-reads a backup: its sha256 must match the one recorded when it was written (when known), and the
 * kind's own tool must accept it. A failed check is a result, not an exception.
 */
export async function verifyBackupFile(job: BackupJob, path: string, expectedSha256: string | undefined, signal: AbortSignal): Promise<VerifyResult> {
  const sha256 = await sha256File(path, signal);
  if (expectedSha256 !== undefined && sha256 !== expectedSha256) {
    return { ok: false, method: 'sha256', sha256, message: `sha256 mismatch: recorded ${expectedSha256}, file has ${sha256}` };
  }
  try {
    const method = await kindOf(job).check(job, path, signal);
    return { ok: true, method: `sha256 + ${method}`, sha256 };
  } catch (err) {
    return { ok: false, method: 'sha256 + kind check', sha256, message: describeError(err) };
  }
}
