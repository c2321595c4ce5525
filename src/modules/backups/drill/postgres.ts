import { ExecError } from '../../../agent/kit/exec.js';
import { quoteIdent } from './pg-counts.js';
import { DrillFailure, listProblems, noContents, type KindDrill } from './drill.js';
import type { PostgresDrill } from './config.js';

type PgClient = InstanceType<(typeof import('pg'))['default']['Client']>;

async function connect(url: string, signal: AbortSignal): Promise<PgClient> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'caretaker restore drill' });
  const onAbort = () => void client.end().catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  client.once('end', () => signal.removeEventListener('abort', onAbort));
  await client.connect();
  return client;
}

async function withClient<T>(url: string, signal: AbortSignal, use: (client: PgClient) => Promise<T>): Promise<T> {
  const client = await connect(url, signal);
  try {
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The scratch database's name and a URL of the same server's `postgres` database, from which it is created and dropped. */
function scratchOf(to: string): { name: string; maintenance: string } {
  const url = new URL(to);
  const name = url.searchParams.get('dbname') ?? decodeURIComponent(url.pathname.slice(1));
  if (!name) throw new DrillFailure('drill.to names no database; give postgres://user@host/scratch_database');
  url.searchParams.delete('dbname');
  url.pathname = '/postgres';
  return { name, maintenance: url.toString() };
}

/** Drops the scratch database, ending sessions left in it by an earlier drill (PostgreSQL 13+). */
async function dropScratch(client: PgClient, name: string): Promise<void> {
  const version = Number((await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v ?? 0);
  await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}${version >= 130_000 ? ' WITH (FORCE)' : ''}`);
}

/** pg_restore's own error line (its last line is often the SQL it was running), else the error. */
function restoreError(err: unknown): string {
  const line = err instanceof ExecError ? err.stderr.split('\n').find((l) => /\berror: /.test(l)) : undefined;
  return line?.trim() ?? (err as Error).message;
}

/** Every recorded table must be in the copy with the row count it had in the dump's snapshot. */
async function compareTables(client: PgClient, tables: Array<{ schema: string; name: string; rows: number }>): Promise<string[]> {
  const problems: string[] = [];
  for (const table of tables) {
    const qualified = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
    const label = `${table.schema}.${table.name}`;
    const found = await client.query<{ oid: string | null }>('SELECT to_regclass($1) AS oid', [qualified]);
    if (found.rows[0]?.oid === null) {
      problems.push(`table ${label} is missing from the restored copy`);
      continue;
    }
    const counted = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified}`)).rows[0]?.n);
    if (counted !== table.rows) problems.push(`table ${label} has ${counted} rows restored, ${table.rows} at dump time`);
  }
  return problems;
}

/**
 * PostgreSQL: the scratch database `drill.to` is dropped and created again (TEMPLATE template0, empty), the
 * backup restored into it, its tables and row counts compared with the manifest, and it is dropped again,
 * whatever the result. Only the scratch database is ever connected to, created or dropped (from the same
 * server's `postgres` database).
 */
export const postgresDrill: KindDrill<{ drill?: PostgresDrill | undefined }> = {
  async run(job, backup, { signal, log, restore }) {
    const tables = backup.manifest.contents?.tables;
    if (!tables) throw noContents(backup, 'row counts');
    const to = job.drill!.to;
    const scratch = scratchOf(to);
    await withClient(scratch.maintenance, signal, async (client) => {
      await dropScratch(client, scratch.name);
      await client.query(`CREATE DATABASE ${quoteIdent(scratch.name)} TEMPLATE template0`);
    });
    try {
      try {
        await restore(to);
      } catch (err) {
        throw new DrillFailure(`the restore failed: ${restoreError(err)}`, { cause: err });
      }
      const problems = await withClient(to, signal, (client) => compareTables(client, tables));
      if (problems.length > 0) throw new DrillFailure(listProblems(problems));
      return `pg_restore into ${scratch.name}; ${tables.length} tables, ${tables.reduce((sum, t) => sum + t.rows, 0)} rows as at dump time`;
    } finally {
      await withClient(scratch.maintenance, AbortSignal.timeout(60_000), (client) => dropScratch(client, scratch.name)).catch((err: unknown) =>
        log.warn({ err: (err as Error).message, database: scratch.name }, 'dropping the drill database failed; the next drill empties it'),
      );
    }
  },
};
