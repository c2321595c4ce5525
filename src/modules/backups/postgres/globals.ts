import { open } from 'node:fs/promises';
import { execFile } from '../../../agent/kit/exec.js';
import { spawnStreaming, streamToolInto } from '../spawn-stream.js';
import type { Companion } from '../kinds/kind.js';
import { pgArgv, pgToolFor, readingFile, refuseUnreadable, serverFacts, splitPassword, toolForTarget, type PgToolSource } from './tools.js';

/** The fields of a postgres job this companion reads: named here so this file needs nothing from postgres.ts, which uses it. */
interface GlobalsJob extends PgToolSource {
  lockTimeout: number;
}

/** What the restore output says when the backup was made without pg_authid (a managed server's admin role). */
const NO_ROLE_PASSWORDS = 'role passwords were not in the backup (the role could not read pg_authid): reset them with ALTER ROLE … PASSWORD';

/** pg_dumpall's last line: a file without it was cut short. */
const COMPLETE_MARK = '-- PostgreSQL database cluster dump complete';
const TAIL_BYTES = 4096;

async function tailOf(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

/** `psql:/path:12: ERROR:  role "app" already exists` */
const ERROR_LINE = /\bERROR:\s+(.*)$/;
/** What a globals restore tolerates: the role (or tablespace) is already there; the ALTER that follows it applies the backup's attributes. */
const ALREADY_EXISTS = /^(role|tablespace) ".*" already exists$/;

/** The errors of a psql run other than "already exists", one per line. */
export function unexpectedGlobalsErrors(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((line) => ERROR_LINE.exec(line)?.[1]?.trim())
    .filter((message): message is string => message !== undefined && !ALREADY_EXISTS.test(message));
}

/**
 * Roles and tablespaces (`pg_dumpall --globals-only`): pg_dump leaves them out, so a restore onto a fresh
 * server would fail on every `ALTER … OWNER TO` and GRANT without them.
 */
export const globalsCompanion: Companion<GlobalsJob> = {
  suffix: 'globals.sql',

  async dump(job, { sink, signal, recordDetails }) {
    const facts = await serverFacts(job, job.url, signal);
    const { place, versions } = await pgToolFor(job, 'pg_dumpall', facts, signal);
    // Runs before pg_dump: a dump that would fail on a table fails here, before either tool starts.
    refuseUnreadable(facts);
    const { url, env } = splitPassword(job.url);
    const args = ['--globals-only', `--lock-wait-timeout=${job.lockTimeout}`, '--no-password', `--dbname=${url}`];
    // Managed servers (RDS, Cloud SQL, Azure) give no one pg_authid; pg_dumpall then reads pg_roles, without passwords.
    if (!facts.authidReadable) args.push('--no-role-passwords');
    recordDetails({ rolePasswords: facts.authidReadable });
    const child = spawnStreaming(...pgArgv(place, 'pg_dumpall', args), { env, signal });
    await streamToolInto(child, sink, signal);
    await child.exited;
    return versions;
  },

  async check(_job, file) {
    if (!(await tailOf(file)).includes(COMPLETE_MARK)) throw new Error(`${file} does not end with pg_dumpall's "${COMPLETE_MARK}" line: cut short`);
    return 'pg_dumpall completion line';
  },

  /**
   * Applied with psql before the database. Roles that already exist stay (CREATE ROLE fails with "already
   * exists", which is tolerated) and get the backup's attributes, password and memberships from the ALTER ROLE
   * and GRANT lines that follow; roles absent from the backup are left alone, never dropped. Any other error
   * fails the restore before the database is touched.
   */
  async restore(job, file, { to, signal }, details) {
    const { url, env } = splitPassword(to ?? job.url);
    env.PGOPTIONS = `${env.PGOPTIONS ?? ''} -c client_min_messages=warning`.trim();
    const place = await toolForTarget(job, 'psql', to ?? job.url, signal);
    const [command, args, input] = readingFile(place, 'psql', ['--no-psqlrc', '--quiet', '--no-password', `--dbname=${url}`], file, `--file=${file}`);
    const { stderr } = await execFile(command, args, { env, signal, maxOutputBytes: 64 * 1024, ...input });
    const errors = unexpectedGlobalsErrors(stderr);
    if (errors.length > 0) throw new Error(`restoring roles and tablespaces failed: ${errors.slice(0, 3).join(' / ')}`);
    return details?.rolePasswords === false ? NO_ROLE_PASSWORDS : undefined;
  },
};
