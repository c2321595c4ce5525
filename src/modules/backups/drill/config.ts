import { z } from 'zod';
import { cronExpression } from '../../../agent/kit/cron.js';
import { remoteOf, type RemoteConfig } from '../remote/config.js';

const schedule = cronExpression().meta({ description: 'when the drill runs, read in the job\'s timezone (e.g. "0 4 * * 0": Sundays at 04:00)' });
const from = z
  .enum(['local', 'remote'])
  .default('local')
  .meta({ description: "where the drilled backup comes from: local (the newest verified backup in <dir>/<job>/) or remote (the job's newest restic snapshot, fetched with restic dump)" });

export const postgresDrillSchema = z
  .strictObject({
    schedule,
    to: z
      .string()
      .refine((text) => /^postgres(ql)?:\/\//.test(text) && URL.canParse(text), { error: 'expected postgres://user[:password]@host[:port]/scratch_database' })
      .meta({
        description:
          'libpq URL of the scratch database the drill restores into: created (or emptied) before and dropped after each drill, so never a database anything else uses; the user needs CREATEDB',
      }),
    from,
  })
  .meta({ description: 'restore drill: on a schedule, restore the newest verified backup into a scratch database, compare its tables and row counts with the dump, drop it' });

export const redisDrillSchema = z
  .strictObject({ schedule, from })
  .meta({ description: 'restore drill: on a schedule, load the newest verified backup into a throw-away redis-server (unix socket in the state dir), compare key counts and a sample of key types with the dump' });

export type PostgresDrill = z.output<typeof postgresDrillSchema>;

/** A drill from the remote needs one: the job's own or the section's, and not `remote: false`. */
export function checkDrillSources(
  section: { remote?: RemoteConfig | undefined; jobs: Array<{ remote?: RemoteConfig | false | undefined; drill?: { from: string } | undefined }> },
  ctx: z.core.$RefinementCtx,
): void {
  section.jobs.forEach((job, i) => {
    if (job.drill?.from === 'remote' && !remoteOf(section, job)) {
      ctx.addIssue({ code: 'custom', path: ['jobs', i, 'drill', 'from'], message: "is remote, but the job has no remote: set backups.remote or the job's remote, or use from: local" });
    }
  });
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1', '']);

/** host, port and database a libpq URL names, with libpq's defaults and its query-string overrides. */
function libpqTarget(text: string): { host: string; port: string; database: string } {
  const url = new URL(text);
  const params = url.searchParams;
  const user = params.get('user') ?? (decodeURIComponent(url.username) || 'postgres');
  let host = params.get('host') ?? url.hostname;
  // The local socket and the loopback names reach the same server.
  if (LOOPBACK.has(host) || host.startsWith('/')) host = 'localhost';
  return {
    host: host.toLowerCase(),
    port: params.get('port') ?? (url.port || '5432'),
    database: params.get('dbname') ?? (decodeURIComponent(url.pathname.slice(1)) || user),
  };
}

/** Whether two libpq URLs name the same database of the same server: a drill must never restore there. */
export function sameDatabase(a: string, b: string): boolean {
  const x = libpqTarget(a);
  const y = libpqTarget(b);
  return x.host === y.host && x.port === y.port && x.database === y.database;
}
