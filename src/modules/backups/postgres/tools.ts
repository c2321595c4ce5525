import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../../../agent/kit/errors.js';
import { execFile, isExecutable } from '../../../agent/kit/exec.js';
import { throughPrefix } from '../../../agent/kit/exec-prefix.js';
import { withoutPassword } from '../../../agent/kit/redact-url.js';

export type PgToolName = 'pg_dump' | 'pg_dumpall' | 'pg_restore' | 'psql';

/** Debian's and PGDG's layout: one set of client tools per major version in <root>/<major>/bin. */
export const DEBIAN_PG_LIB = '/usr/lib/postgresql';

/** The fields of a postgres job that say where its tools are. */
export interface PgToolSource {
  url: string;
  binDir?: string | undefined;
  binRoot?: string | undefined;
  exec?: readonly string[] | undefined;
}

/** Where a tool runs from: a bin directory, PATH (no dir), or through the job's exec prefix (the container's PATH). */
export interface PgToolPlace {
  dir?: string;
  exec?: readonly string[];
}

/** The command and arguments of one tool at `place`. */
export function pgArgv(place: PgToolPlace, name: PgToolName, args: readonly string[]): [string, string[]] {
  return throughPrefix(place.exec, place.dir ? join(place.dir, name) : name, args);
}

/**
 * The command line of a tool reading `file`: named among its arguments (as `fileArg`), or through exec as its
 * stdin, since the container does not see this host's files (pg_restore reads an archive from a pipe in
 * order; one transaction needs no seeking).
 */
export function readingFile(place: PgToolPlace, name: PgToolName, args: readonly string[], file: string, fileArg = file): [string, string[], { inputFile?: string }] {
  if (place.exec) return [...pgArgv(place, name, args), { inputFile: file }];
  return [...pgArgv(place, name, [...args, fileArg]), {}];
}

/** `<root>/<major>/bin` directories holding an executable `name`, oldest major first. */
export function installedMajors(root: string, name: PgToolName): Array<{ major: number; dir: string }> {
  let entries: string[] = [];
  try {
    entries = readdirSync(root);
  } catch {
    // Not this layout; PATH decides.
  }
  return entries
    .filter((entry) => /^\d+(\.\d+)?$/.test(entry))
    .map((entry) => ({ major: Number(entry), dir: join(root, entry, 'bin') }))
    .filter(({ dir }) => isExecutable(join(dir, name)))
    .sort((a, b) => a.major - b.major);
}

function missingTools(serverMajor: number, name: PgToolName, newest: string, hint = ''): Error {
  return new Error(`server is PostgreSQL ${serverMajor}, newest ${name} here is ${newest}: install postgresql-client-${serverMajor} (PGDG)${hint}`);
}

/**
 * Where to run `name` for a server of `serverMajor`: the job's exec prefix or binDir as given; else, of the
 * majors in the bin root, the oldest that is not older than the server (a tool older than the server cannot
 * dump it, a much newer one may write what the server does not take back); else PATH. Without a server
 * (reading an archive) the newest, which reads every archive format. Throws, naming the package to install,
 * when the bin root holds only older majors.
 */
export function choosePgTool(source: PgToolSource, name: PgToolName, serverMajor: number | undefined): PgToolPlace {
  if (source.exec) return { exec: source.exec };
  if (source.binDir) return { dir: source.binDir };
  const majors = installedMajors(source.binRoot ?? DEBIAN_PG_LIB, name);
  if (majors.length === 0) return {};
  if (serverMajor === undefined) return { dir: majors.at(-1)!.dir };
  const fit = majors.find(({ major }) => major >= serverMajor);
  if (!fit) throw missingTools(serverMajor, name, String(majors.at(-1)!.major));
  return { dir: fit.dir };
}

/**
 * Seconds libpq may take to connect, TLS and authentication included, when neither the URL's connect_timeout
 * nor the environment sets it: without one, a port that accepts and never answers hangs a tool forever.
 */
const PG_CONNECT_TIMEOUT_S = 10;

/**
 * libpq URL without its password, and the environment for the tools: the password (never on a command
 * line) and a bounded connect.
 */
export function splitPassword(url: string): { url: string; env: NodeJS.ProcessEnv } {
  const { url: bare, password } = withoutPassword(url);
  const env: NodeJS.ProcessEnv = { PGCONNECT_TIMEOUT: String(PG_CONNECT_TIMEOUT_S), ...process.env };
  if (password) env.PGPASSWORD = password;
  return { url: bare, env };
}

/** `pg_dump (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)` → 15.8 */
export function parseToolVersion(output: string): string | undefined {
  return /\(PostgreSQL\)\s+(\d+(?:\.\d+)?)/.exec(output)?.[1];
}

export function majorOf(version: string): number {
  const [major = NaN, minor = 0] = version.split('.').map(Number);
  // Before PostgreSQL 10 a major version had two parts (9.6).
  return major >= 10 ? major : major + minor / 10;
}

/** What a job learns from its server before running a tool, in one query. */
export interface ServerFacts {
  /** `15.8` */
  version: string;
  /** 15, or 9.6 before PostgreSQL 10 (Debian names those directories so too). */
  major: number;
  role: string;
  /** Whether pg_dumpall may read role passwords: not on managed servers (RDS, Cloud SQL, Azure), where no one is superuser. */
  authidReadable: boolean;
  /** Tables and sequences pg_dump would dump but this role may not SELECT, or not reach (no USAGE on the schema); pg_read_all_data grants both. */
  unreadable: string[];
}

/**
 * One round trip, one JSON value, so it reads the same from node-postgres and from psql run through an exec
 * prefix. The relations are those pg_dump reads: tables, partitions and sequences outside the system schemas,
 * not owned by an extension.
 */
const FACTS_SQL = `SELECT json_build_object(
  'version_num', current_setting('server_version_num')::int,
  'version', current_setting('server_version'),
  'role', current_user,
  'authid', has_table_privilege('pg_catalog.pg_authid', 'SELECT'),
  'unreadable', COALESCE((
    SELECT json_agg(quote_ident(n.nspname) || '.' || quote_ident(c.relname) ORDER BY n.nspname, c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'S') AND c.relpersistence <> 't'
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      AND NOT (has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT'))), '[]'::json))::text AS facts`;

interface FactsRow {
  version_num: number;
  version: string;
  role: string;
  authid: boolean;
  unreadable: string[];
}

function factsOf(text: string): ServerFacts {
  const row = JSON.parse(text) as FactsRow;
  // 150008 → 15; 90624 → 9.6
  const major = row.version_num >= 100_000 ? Math.floor(row.version_num / 10_000) : Math.floor(row.version_num / 10_000) + (Math.floor(row.version_num / 100) % 100) / 10;
  // `15.8 (Debian 15.8-1.pgdg120+1)` → 15.8
  return { version: row.version.split(' ')[0] ?? '', major, role: row.role, authidReadable: row.authid, unreadable: row.unreadable };
}

async function factsOverConnection(url: string, signal: AbortSignal): Promise<string> {
  // pg is loaded on first use, so an agent without PostgreSQL jobs never pays for it.
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_S * 1000, query_timeout: 15_000 });
  const onAbort = () => void client.end().catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect().catch((err: unknown) => {
      // A timeout says nothing of where: name the server, in libpq's words, as pg_dump's own message would.
      const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
      const port = new URL(url).port || '5432';
      const text = describeError(err);
      if (text.includes(`${host}:${port}`)) throw err;
      throw new Error(`connection to server at "${host}", port ${port} failed: ${text}`);
    });
    return (await client.query<{ facts: string }>(FACTS_SQL)).rows[0]?.facts ?? '';
  } finally {
    signal.removeEventListener('abort', onAbort);
    await client.end().catch(() => undefined);
  }
}

/**
 * The server's version, role and what it may read, over a short-lived connection bounded by the caller's
 * signal; with an exec prefix (no port reachable from here), by psql run through it.
 */
export async function serverFacts(source: PgToolSource, url: string, signal: AbortSignal): Promise<ServerFacts> {
  if (!source.exec) return factsOf(await factsOverConnection(url, signal));
  const { url: bare, env } = splitPassword(url);
  const [command, args] = pgArgv({ exec: source.exec }, 'psql', ['--no-psqlrc', '--no-align', '--tuples-only', '--quiet', '--no-password', `--dbname=${bare}`, '--command', FACTS_SQL]);
  const { stdout } = await execFile(command, args, { env, signal, timeoutMs: 30_000 });
  return factsOf(stdout.trim());
}

/**
 * Refuses a dump whose role cannot read every table, naming them, so a role short of a grant (common on
 * managed servers) learns it before any tool runs instead of from a pg_dump error halfway through.
 */
export function refuseUnreadable(facts: ServerFacts): void {
  const { unreadable, role } = facts;
  if (unreadable.length === 0) return;
  const shown = unreadable.slice(0, 10).join(', ') + (unreadable.length > 10 ? ` and ${unreadable.length - 10} more` : '');
  const one = unreadable.length === 1;
  throw new Error(
    `role ${role} cannot read ${one ? 'table' : `${unreadable.length} tables`} ${shown}: GRANT SELECT on ${one ? 'it' : 'them'} to ${role}, or GRANT pg_read_all_data TO ${role} (PostgreSQL 14+)`,
  );
}

/**
 * The tool to run against a server, and its version and the server's for the manifest. Refuses a tool older
 * than the server (found on PATH, in binDir or through exec), which cannot dump it, with what to install.
 */
export async function pgToolFor(
  source: PgToolSource,
  name: PgToolName,
  server: Pick<ServerFacts, 'major' | 'version'>,
  signal: AbortSignal,
): Promise<{ place: PgToolPlace; versions: Record<string, string> }> {
  const place = choosePgTool(source, name, server.major);
  const [command, args] = pgArgv(place, name, ['--version']);
  const { stdout } = await execFile(command, args, { signal, timeoutMs: 30_000 });
  const version = parseToolVersion(stdout) ?? stdout.trim();
  if (majorOf(version) < server.major) {
    const hint = source.exec ? ' where exec runs it' : source.binDir ? ' and point binDir at its bin directory' : '';
    throw missingTools(server.major, name, version, hint);
  }
  return { place, versions: { [name]: version, server: server.version } };
}

/** pg_dump's and the server's version, for the doctor: the same choice a run makes. */
export async function dumpToolFor(source: PgToolSource, signal: AbortSignal): Promise<{ place: PgToolPlace; versions: Record<string, string> }> {
  return pgToolFor(source, 'pg_dump', await serverFacts(source, source.url, signal), signal);
}

/** Where a restore runs its tool: chosen for the major of the server it restores into. */
export async function toolForTarget(source: PgToolSource, name: 'pg_restore' | 'psql', url: string, signal: AbortSignal): Promise<PgToolPlace> {
  return (await pgToolFor(source, name, await serverFacts(source, url, signal), signal)).place;
}
