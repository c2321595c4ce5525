import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { execFile } from '../../../agent/kit/exec.js';
import { duration, existingPath, libpqFileProblems, pathProblem } from '../../../agent/kit/schema.js';
import { redactUrl } from '../../../agent/kit/redact-url.js';
import { jobCommon } from '../job-common.js';
import { spawnStreaming, spawnToFile, streamToolInto } from '../spawn-stream.js';
import type { BackupKind, DirectoryDumpContext, DumpContext } from './kind.js';
import { execPrefix } from '../../../agent/kit/exec-prefix.js';
import { choosePgTool, pgArgv, pgToolFor, readingFile, refuseUnreadable, serverFacts, splitPassword, toolForTarget, type PgToolPlace } from '../postgres/tools.js';
import { globalsCompanion } from '../postgres/globals.js';
import { postgresDrillSchema, sameDatabase } from '../drill/config.js';
import { postgresDrill } from '../drill/postgres.js';
import { dumpWithRowCounts } from '../drill/pg-counts.js';

export const postgresJobSchema = z
  .strictObject({
    ...jobCommon,
    type: z.literal('postgres').meta({ description: 'postgres: one database with pg_dump (optionally its roles and tablespaces)' }),
    url: z
      .string()
      .refine((text) => /^postgres(ql)?:\/\//.test(text) && URL.canParse(text), { error: 'expected postgres://user[:password]@host[:port]/database' })
      .superRefine((text, ctx) => {
        for (const message of libpqFileProblems(text)) ctx.addIssue({ code: 'custom', message });
      })
      .meta({ description: 'libpq URL of the database to dump (query parameters such as sslmode pass through)' }),
    lockTimeout: duration({ min: '1s' })
      .prefault('5m')
      .meta({ description: 'pg_dump --lock-wait-timeout: give up instead of waiting forever on a table lock' }),
    compress: z.number().int().min(0).max(9).optional().meta({ description: 'pg_dump -Z level (default: pg_dump chooses)' }),
    jobs: z
      .number()
      .int()
      .min(1)
      .max(64)
      .optional()
      .meta({ description: 'dump with pg_dump --format=directory --jobs N (a directory backup, restored with pg_restore --jobs N) instead of one custom-format file' }),
    globals: z.boolean().default(false).meta({ description: 'also save roles and tablespaces (pg_dumpall --globals-only) beside each dump; a role that cannot read pg_authid (no superuser: RDS, Cloud SQL) saves them without passwords' }),
    binDir: existingPath({ kind: 'directory' })
      .superRefine((dir, ctx) => {
        const problem = dir.startsWith('/') && !pathProblem(dir, { kind: 'directory' }) ? pathProblem(join(dir, 'pg_dump'), { kind: 'file', executable: true }) : undefined;
        if (problem) ctx.addIssue({ code: 'custom', message: `${join(dir, 'pg_dump')}: ${problem}` });
      })
      .optional()
      .meta({ description: 'directory holding pg_dump, pg_dumpall, pg_restore and psql, used whatever the server version (default: chosen from binRoot)' }),
    binRoot: existingPath({ kind: 'directory' })
      .optional()
      .meta({ description: 'directory with one <major>/bin of client tools per PostgreSQL major (default /usr/lib/postgresql, Debian\'s and PGDG\'s layout): each tool is taken from the oldest major not older than its server, else from PATH' }),
    exec: execPrefix('pg_dump, pg_dumpall, pg_restore and psql are').optional(),
    drill: postgresDrillSchema.optional(),
  })
  .superRefine((job, ctx) => {
    if (job.binDir && job.binRoot) ctx.addIssue({ code: 'custom', path: ['binRoot'], message: 'give binDir (one set of tools) or binRoot (one per major), not both' });
    if (job.exec) {
      // The tools run where exec puts them: their files and versions are the container's, not this host's.
      for (const key of ['binDir', 'binRoot'] as const) {
        if (job[key]) ctx.addIssue({ code: 'custom', path: [key], message: `the tools run through exec (${job.exec[0]}), so ${key} would not be read: leave it out` });
      }
      if (job.jobs !== undefined) ctx.addIssue({ code: 'custom', path: ['jobs'], message: 'a directory dump is written where exec runs pg_dump, not here: leave jobs out with exec (one custom-format file is streamed)' });
      if (job.drill) ctx.addIssue({ code: 'custom', path: ['drill'], message: 'a drill counts rows over a connection from this host, which exec is there to avoid: not supported with exec yet' });
    }
    if (job.drill && URL.canParse(job.url) && URL.canParse(job.drill.to) && sameDatabase(job.url, job.drill.to)) {
      ctx.addIssue({ code: 'custom', path: ['drill', 'to'], message: 'names the database this job backs up: a drill empties and drops its target, so give a scratch database (e.g. .../caretaker_drill)' });
    }
  });

export type PostgresJob = z.output<typeof postgresJobSchema>;

/** What a dump needs from the server before any tool writes a byte: a pg_dump that can dump it, and every table readable. */
async function prepareDump(job: PostgresJob, signal: AbortSignal): Promise<{ place: PgToolPlace; versions: Record<string, string> }> {
  const facts = await serverFacts(job, job.url, signal);
  const chosen = await pgToolFor(job, 'pg_dump', facts, signal);
  refuseUnreadable(facts);
  return chosen;
}

function dumpArgs(job: PostgresJob, url: string, snapshot: string | undefined): string[] {
  const args = [`--lock-wait-timeout=${job.lockTimeout}`, '--no-password', `--dbname=${url}`];
  if (job.compress !== undefined) args.push(`--compress=${job.compress}`);
  if (snapshot !== undefined) args.push(`--snapshot=${snapshot}`);
  return args;
}

/**
 * Runs a pg_dump; for a job with a drill, in a snapshot whose exact row counts go into the manifest
 * (drill/pg-counts.ts), so the drill can compare the restored copy with what was dumped.
 */
async function dumpCounted(job: PostgresJob, ctx: DumpContext | DirectoryDumpContext, run: (snapshot: string | undefined) => Promise<void>): Promise<void> {
  if (!job.drill) return run(undefined);
  const { tables } = await dumpWithRowCounts(job.url, job.lockTimeout, ctx.signal, run);
  ctx.recordContents?.({ tables });
}

/** pg_dump enforces --lock-wait-timeout with a statement timeout on LOCK TABLE; say what it means. */
function explainLockTimeout(job: PostgresJob, err: Error): Error {
  if (/statement timeout/.test(err.message) && /LOCK TABLE/.test(err.message)) {
    return new Error(`gave up after lockTimeout (${job.lockTimeout / 1000} s) waiting for a table lock held by another session: ${err.message}`);
  }
  return err;
}

export const postgresKind: BackupKind<PostgresJob> = {
  // `dump`: one custom-format file; `dir`: pg_dump's directory format (jobs: N).
  extensions: ['dump', 'dir'],

  formatFor(job) {
    return job.jobs === undefined ? { extension: 'dump', layout: 'file' } : { extension: 'dir', layout: 'directory' };
  },

  companionsFor(job) {
    return job.globals ? [globalsCompanion] : [];
  },

  companions: [globalsCompanion],

  async warmUp() {
    await import('pg');
  },

  async dump(job, ctx) {
    const { sink, signal } = ctx;
    const { place, versions } = await prepareDump(job, signal);
    const { url, env } = splitPassword(job.url);
    await dumpCounted(job, ctx, async (snapshot) => {
      const [command, args] = pgArgv(place, 'pg_dump', ['--format=custom', ...dumpArgs(job, url, snapshot)]);
      let exited: Promise<void>;
      if (sink.takeFd) {
        // pg_dump writes straight into the backup file: no pipe to hide its exit status, no bytes through the event loop.
        exited = spawnToFile(command, args, sink.takeFd(), { env, signal }).exited;
      } else {
        const streaming = spawnStreaming(command, args, { env, signal });
        await streamToolInto(streaming, sink, signal);
        exited = streaming.exited;
      }
      await exited.catch((err: Error) => {
        throw explainLockTimeout(job, err);
      });
    });
    return versions;
  },

  async dumpToDirectory(job, ctx) {
    const { path, signal } = ctx;
    const { place, versions } = await prepareDump(job, signal);
    const { url, env } = splitPassword(job.url);
    await dumpCounted(job, ctx, async (snapshot) => {
      // pg_dump creates the directory (it must not exist), writes one file per table from N connections sharing
      // one snapshot, and fsyncs what it wrote.
      const args = ['--format=directory', `--jobs=${job.jobs ?? 1}`, `--file=${path}`, ...dumpArgs(job, url, snapshot)];
      const child = spawnStreaming(...pgArgv(place, 'pg_dump', args), { env, signal });
      child.stdout.resume();
      await child.exited.catch((err: Error) => {
        throw explainLockTimeout(job, err);
      });
    });
    return versions;
  },

  async check(job, file, signal) {
    // Reading an archive needs no server: the newest pg_restore reads every format.
    const [command, args, input] = readingFile(choosePgTool(job, 'pg_restore', undefined), 'pg_restore', ['--list'], file);
    await execFile(command, args, { signal, timeoutMs: 10 * 60_000, maxOutputBytes: 4096, ...input });
    return 'pg_restore --list';
  },

  async restore(job, file, { to, signal, scratch }) {
    const { url, env } = splitPassword(to ?? job.url);
    const args = ['--clean', '--if-exists', '--exit-on-error', '--no-password', `--dbname=${url}`];
    if (scratch) args.push('--no-owner', '--no-privileges');
    const directory = (await stat(file)).isDirectory();
    if (directory && job.exec) throw new Error(`${file} is a directory backup, which cannot be fed through exec: restore it with the job's exec left out, from a host whose tools reach the server`);
    const parallel = directory && (job.jobs ?? 1) > 1;
    // One transaction where pg_restore allows it, so a failed restore leaves the database as it was; a parallel
    // restore (directory backups) cannot be one transaction and trades that for speed.
    if (parallel) args.push(`--jobs=${job.jobs}`);
    else args.push('--single-transaction');
    const [command, fullArgs, input] = readingFile(await toolForTarget(job, 'pg_restore', to ?? job.url, signal), 'pg_restore', args, file);
    await execFile(command, fullArgs, { env, signal, maxOutputBytes: 16 * 1024, ...input });
  },

  describeTarget(job, to) {
    return redactUrl(to ?? job.url);
  },

  drill: postgresDrill,
};
