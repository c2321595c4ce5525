import { z } from 'zod';
import { execFile } from '../../../agent/kit/exec.js';
import { duration } from '../../../agent/kit/schema.js';
import { jobCommon } from '../job-common.js';
import { pipeInto } from '../sink.js';
import { spawnStreaming } from '../spawn-stream.js';
import { redactUrl, type BackupKind } from './kind.js';
import { majorOf, parseToolVersion, pgTool, serverVersion, splitPassword } from './pg-tools.js';

export const postgresJobSchema = z.strictObject({
  ...jobCommon,
  type: z.literal('postgres'),
  url: z
    .string()
    .refine((text) => /^postgres(ql)?:\/\//.test(text) && URL.canParse(text), { error: 'expected postgres://user[:password]@host[:port]/database' })
    .meta({ description: 'libpq URL of the database to dump (query parameters such as sslmode pass through)' }),
  lockTimeout: duration({ min: '1s' })
    .prefault('5m')
    .meta({ description: 'pg_dump --lock-wait-timeout: give up instead of waiting forever on a table lock' }),
  compress: z.number().int().min(0).max(9).optional().meta({ description: 'pg_dump -Z level (default: pg_dump chooses)' }),
  binDir: z.string().optional().meta({ description: 'directory holding pg_dump and pg_restore (default: newest /usr/lib/postgresql/*/bin, else PATH)' }),
});

export type PostgresJob = z.output<typeof postgresJobSchema>;

async function toolVersion(tool: string, signal: AbortSignal): Promise<string> {
  const { stdout } = await execFile(tool, ['--version'], { signal, timeoutMs: 10_000 });
  return parseToolVersion(stdout) ?? stdout.trim();
}

export const postgresKind: BackupKind<PostgresJob> = {
  extension: 'dump',

  async dump(job, { sink, signal }) {
    const pgDump = pgTool('pg_dump', job.binDir);
    const [dumpVersion, server] = await Promise.all([toolVersion(pgDump, signal), serverVersion(job.url, signal)]);
    if (majorOf(dumpVersion) < majorOf(server)) {
      throw new Error(
        `${pgDump} is version ${dumpVersion} but the server runs ${server}: pg_dump cannot dump a newer server; ` +
          `install the PostgreSQL ${majorOf(server)} client tools or set binDir`,
      );
    }
    const { url, env } = splitPassword(job.url);
    const args = ['--format=custom', `--lock-wait-timeout=${job.lockTimeout}`, '--no-password', `--dbname=${url}`];
    if (job.compress !== undefined) args.push(`--compress=${job.compress}`);
    const child = spawnStreaming(pgDump, args, { env, signal });
    try {
      await pipeInto(child.stdout, sink, signal);
    } catch (err) {
      // Our side failed (disk full, cancelled): that is the error to report, not the tool's death by our hand.
      child.kill();
      await child.exited.catch(() => undefined);
      throw err;
    }
    await child.exited.catch((err: Error) => {
      // pg_dump enforces --lock-wait-timeout with a statement timeout on LOCK TABLE; say what it means.
      if (/statement timeout/.test(err.message) && /LOCK TABLE/.test(err.message)) {
        throw new Error(`gave up after lockTimeout (${job.lockTimeout / 1000} s) waiting for a table lock held by another session: ${err.message}`);
      }
      throw err;
    });
    return { pg_dump: dumpVersion, server };
  },

  async check(job, file, signal) {
    await execFile(pgTool('pg_restore', job.binDir), ['--list', file], { signal, timeoutMs: 10 * 60_000, maxOutputBytes: 4096 });
    return 'pg_restore --list';
  },

  async restore(job, file, { to, signal }) {
    const { url, env } = splitPassword(to ?? job.url);
    // One transaction: a failed restore leaves the database as it was.
    const args = ['--clean', '--if-exists', '--single-transaction', '--exit-on-error', '--no-password', `--dbname=${url}`, file];
    await execFile(pgTool('pg_restore', job.binDir), args, { env, signal, maxOutputBytes: 16 * 1024 });
  },

  describeTarget(job, to) {
    return redactUrl(to ?? job.url);
  },
};
