import { z } from 'zod';
import { cronExpression } from '../../../agent/kit/cron.js';
import { findsCommand } from '../../../agent/kit/exec.js';
import { size } from '../../../agent/kit/schema.js';
import { retentionSchema } from '../retention-schema.js';

/** restic's repository URL schemes; anything else is a local path. */
const SCHEMES = ['sftp', 'rest', 's3', 'b2', 'azure', 'gs', 'swift', 'rclone'] as const;

/** The backend a repository URL names, as restic spells it in `-o <backend>.connections`. */
export function backendOf(repository: string): string {
  return SCHEMES.find((s) => repository.startsWith(`${s}:`)) ?? 'local';
}

/** A map of strings whose keys must match `pattern`; a bad key is reported at its own path (zod's record says only "Invalid key"). */
function keyedStrings(pattern: RegExp, message: string) {
  return z.record(z.string(), z.string()).superRefine((record, ctx) => {
    for (const key of Object.keys(record)) if (!pattern.test(key)) ctx.addIssue({ code: 'custom', path: [key], message });
  });
}

export const remoteSchema = z
  .strictObject({
    repository: z
      .string()
      .min(1)
      .refine((text) => backendOf(text) !== 'local' || text.startsWith('/'), { error: 'expected a restic repository: sftp:, rest:, s3:, b2:, azure:, gs:, swift:, rclone: or an absolute path' })
      .meta({ description: "restic repository (RESTIC_REPOSITORY): sftp:user@host:/path, rest:https://host/, s3:..., b2:..., azure:..., gs:..., rclone:..., or an absolute path; may hold credentials (use ${credential:NAME})" }),
    password: z.string().min(1).meta({ description: 'repository password, given to restic as RESTIC_PASSWORD in its environment only; use ${credential:NAME} or ${file:/path}' }),
    init: z.boolean().default(false).meta({ description: 'create the repository (restic init) when `restic cat config` finds none; otherwise a missing repository is an error' }),
    env: keyedStrings(/^[A-Z_][A-Z0-9_]*$/, 'environment variable names are upper case letters, digits and _')
      .default({})
      .meta({ description: 'backend credentials for restic, e.g. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, B2_ACCOUNT_KEY (use ${credential:NAME}); set in restic’s environment only' }),
    options: keyedStrings(/^[a-z0-9]+\.[a-z0-9-]+$/, 'restic options are <backend>.<name>, e.g. sftp.command')
      .default({})
      .meta({ description: 'extended options passed as restic -o key=value (e.g. sftp.command, s3.storage-class)' }),
    limitUpload: size().optional().meta({ description: 'upload bandwidth per second (restic --limit-upload, in KiB/s), e.g. 10MiB' }),
    connections: z.number().int().min(1).max(128).optional().meta({ description: 'concurrent backend connections (restic -o <backend>.connections)' }),
    compression: z
      .enum(['auto', 'max', 'off'])
      .default('auto')
      .meta({ description: "restic --compression; unless 'off', PostgreSQL jobs without their own compress dump with -Z0 so restic deduplicates across days" }),
    retention: retentionSchema.optional().meta({ description: "what restic forget keeps of this job's snapshots (default: the job's retention; none: keep everything)" }),
    check: z
      .strictObject({
        schedule: cronExpression(),
        readDataSubset: z
          .string()
          .regex(/^(\d+(\.\d+)?%|\d+\/\d+|\d+(\.\d+)?[KMGT]?i?B?)$/i, { error: "expected restic's --read-data-subset: 5%, 1/7 or 500MiB" })
          .default('5%')
          .meta({ description: 'restic check --read-data-subset: a percentage, n/t or a size (default 5%)' }),
      })
      .optional()
      .meta({ description: 'verify the repository on a schedule: restic check --read-data-subset' }),
    cacheDir: z.string().startsWith('/', { error: 'expected an absolute path' }).optional().meta({ description: "restic --cache-dir (default: restic's own, ~/.cache/restic)" }),
    binary: z
      .string()
      .default('restic')
      .refine((command) => findsCommand(command), { error: 'restic is not installed or not executable: apt-get install restic (or set binary to its path)' })
      .meta({ description: 'the restic executable (default: restic on PATH)' }),
  })
  .meta({ description: 'off-site copies of verified backups through restic (encrypted, deduplicated, retention and checks on the remote)' });

export type RemoteConfig = z.output<typeof remoteSchema>;

/** A job's remote: its own, the section's, or none (`remote: false`). */
export function remoteOf(section: { remote?: RemoteConfig | undefined }, job: { remote?: RemoteConfig | false | undefined }): RemoteConfig | undefined {
  if (job.remote === false) return undefined;
  return job.remote ?? section.remote;
}
