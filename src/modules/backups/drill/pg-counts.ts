import type { BackupContents } from './contents.js';

type Tables = NonNullable<BackupContents['tables']>;

/**
 * The tables pg_dump writes data for: ordinary tables and partitions (a partitioned parent holds no rows
 * itself), outside the system schemas, not owned by an extension, not temporary.
 */
const TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND c.relpersistence <> 't'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  ORDER BY 1, 2`;

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Runs `dump` with a snapshot exported from a REPEATABLE READ transaction (pg_dump --snapshot) and, while it
 * runs, counts every table's rows exactly in that same transaction: the counts are those of the data the dump
 * holds, whatever is written meanwhile (n_live_tup would only be an estimate). It costs one more read of each
 * table, in parallel with the dump, and only jobs with a drill pay it. The transaction stays open until the
 * dump has ended, so the snapshot is there whenever pg_dump imports it.
 */
export async function dumpWithRowCounts<T>(url: string, lockTimeoutMs: number, signal: AbortSignal, dump: (snapshot: string) => Promise<T>): Promise<{ result: T; tables: Tables }> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'caretaker row counts' });
  const onAbort = () => void client.end().catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
    const exported = await client.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot');
    const dumped = dump(exported.rows[0]!.snapshot);
    const counted = (async () => {
      const tables: Tables = [];
      for (const { schema, name } of (await client.query<{ schema: string; name: string }>(TABLES_SQL)).rows) {
        const { rows } = await client.query<{ rows: string }>(`SELECT count(*) AS rows FROM ${quoteIdent(schema)}.${quoteIdent(name)}`);
        tables.push({ schema, name, rows: Number(rows[0]!.rows) });
      }
      return tables;
    })();
    // Both settle before the transaction ends, whichever fails first.
    const [result, tables] = await Promise.allSettled([dumped, counted]);
    if (result.status === 'rejected') throw result.reason;
    if (tables.status === 'rejected') throw new Error(`counting rows for the restore drill: ${(tables.reason as Error).message}`, { cause: tables.reason });
    await client.query('COMMIT');
    return { result: result.value, tables: tables.value };
  } finally {
    signal.removeEventListener('abort', onAbort);
    await client.end().catch(() => undefined);
  }
}
