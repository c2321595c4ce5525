import type { Client } from 'pg';
import { z } from 'zod';
import { libpqFileProblems } from '../../../agent/kit/schema.js';
import { execFile } from '../../../agent/kit/exec.js';
import { execPrefix, throughPrefix } from '../../../agent/kit/exec-prefix.js';
import { redactUrl, withoutPassword } from '../../../agent/kit/redact-url.js';
import { tlsClient, tlsConnectOptions } from '../../../agent/kit/tls.js';
import { failure, toolReason } from '../classify.js';
import { commonProbeFields, validUrl, type CheckOutcome, type Checker, type Reason } from './kind.js';

export const postgresProbeConfig = z
  .strictObject({
    ...commonProbeFields,
    type: z.literal('postgres').meta({ description: 'postgres: connect and read server statistics' }),
    url: validUrl(['postgres', 'postgresql']).meta({ description: 'postgres://user:password@host:port/db; libpq-style sslmode (verify-full, require, disable...) and sslrootcert in the query string are understood' }),
    tls: tlsClient().optional().meta({ description: 'TLS settings as a block instead of sslmode in the URL' }),
    exec: execPrefix('psql is').optional(),
  })
  .superRefine((probe, ctx) => {
    if (probe.exec && probe.tls) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'psql run through exec reads TLS settings from the url (sslmode, sslrootcert): give them there' });
    if (probe.tls !== undefined && /[?&]ssl/.test(probe.url)) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'give TLS settings either here or as ssl* parameters in the url, not both' });
    }
    for (const message of libpqFileProblems(probe.url)) ctx.addIssue({ code: 'custom', path: ['url'], message });
  });
export type PostgresProbeConfig = z.output<typeof postgresProbeConfig>;

export function postgresTarget(config: PostgresProbeConfig): string {
  return redactUrl(config.url);
}

/** pg, loaded by the first postgres check so an agent without postgres probes never pays for it. */
let pg: typeof import('pg').default | undefined;
async function loadPg(): Promise<typeof import('pg').default> {
  return (pg ??= (await import('pg')).default);
}

/** pg's DatabaseError carries the server's severity and a five-character SQLSTATE; told apart without loading pg. */
function sqlState(err: Error): string | undefined {
  const { severity, code } = err as { severity?: unknown; code?: unknown };
  return typeof severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * pg's own words when the server asks for a password and the url has none: SCRAM fails in the client, before
 * the server could answer 28P01, with a message that names neither the url nor the fix.
 */
const NO_PASSWORD = /client password must be a string|^password must be a string/i;

class MissingPasswordError extends Error {
  constructor(cause: Error) {
    super('the server asks for a password and the url gives none: put it in the url (postgres://USER:PASSWORD@HOST/DB, e.g. with ${credential:NAME})', { cause });
  }
}

function explained(err: unknown): unknown {
  return err instanceof Error && NO_PASSWORD.test(err.message) ? new MissingPasswordError(err) : err;
}

/** SQLSTATE classes: 28 = authorization, 3D = unknown database, 0A = feature not supported. */
export function postgresReason(err: unknown): Reason | undefined {
  if (!(err instanceof Error)) return undefined;
  if (err instanceof MissingPasswordError || NO_PASSWORD.test(err.message)) return 'auth';
  // Only the server's errors carry a SQLSTATE; socket errors have errno codes such as EPIPE.
  const code = sqlState(err);
  if (code !== undefined) {
    if (code.startsWith('28') || code === '3D000') return 'auth';
    if (code.startsWith('0A')) return 'unsupported';
    if (code === '57014') return 'timeout'; // query_canceled: statement_timeout
    if (code.startsWith('08') || code.startsWith('57')) return 'refused'; // connection exception, shutting down
    return 'query';
  }
  if (/does not support SSL/i.test(err.message)) return 'tls';
  if (/query read timeout|connection timeout|timeout expired/i.test(err.message)) return 'timeout';
  if (/connection terminated|not queryable|client has encountered a connection error/i.test(err.message)) return 'refused';
  return undefined;
}

// `SELECT 1` in spirit: one round trip that also reads what the probe reports. Epoch values are float8 so
// node-postgres hands back numbers, not strings.
const STATS_SQL = `
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       current_setting('max_connections')::int AS max_connections,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS connections,
       pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_is_in_recovery()
            THEN COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)::float8 END AS replication_lag_seconds,
       COALESCE((SELECT EXTRACT(EPOCH FROM max(now() - xact_start)) FROM pg_stat_activity
                 WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()), 0)::float8 AS oldest_transaction_seconds,
       pg_database_size(current_database())::float8 AS database_size_bytes`;

interface StatsRow {
  version: string;
  version_num: number;
  max_connections: number;
  connections: number;
  in_recovery: boolean;
  replication_lag_seconds: number | null;
  oldest_transaction_seconds: number;
  database_size_bytes: number;
}

function statsOutcome(row: StatsRow): CheckOutcome {
  const series: CheckOutcome['series'] = {
    caretaker_probe_postgres_connections: row.connections,
    caretaker_probe_postgres_max_connections: row.max_connections,
    caretaker_probe_postgres_in_recovery: row.in_recovery ? 1 : 0,
    caretaker_probe_postgres_oldest_transaction_age_seconds: row.oldest_transaction_seconds,
    caretaker_probe_postgres_database_size_bytes: row.database_size_bytes,
    caretaker_probe_postgres_server_version_num: row.version_num,
  };
  if (row.replication_lag_seconds !== null) series.caretaker_probe_postgres_replication_lag_seconds = row.replication_lag_seconds;
  const role = row.in_recovery ? 'standby' : 'primary';
  return {
    ok: true,
    reason: 'ok',
    message: `${role} answered, ${row.connections}/${row.max_connections} connections`,
    series,
    details: { version: row.version, role, connections: row.connections, maxConnections: row.max_connections },
  };
}

/**
 * Through an exec prefix (a database in a container, no published port): psql runs the same statistics
 * query next to the server, one process per check, its row as JSON. The password goes in PGPASSWORD,
 * never on a command line (docker exec passes it on with `-e PGPASSWORD`).
 */
function createPostgresExecChecker(config: PostgresProbeConfig, exec: readonly string[], timeoutMs: number): Checker {
  const { url, password } = withoutPassword(config.url);
  const env: NodeJS.ProcessEnv = { ...process.env, PGCONNECT_TIMEOUT: String(Math.max(1, Math.ceil(timeoutMs / 1000))) };
  if (password) env.PGPASSWORD = password;
  const sql = `SELECT row_to_json(s) FROM (${STATS_SQL}) s`;
  const argv = throughPrefix(exec, 'psql', ['--no-psqlrc', '--no-align', '--tuples-only', '--quiet', '--no-password', `--dbname=${url}`, '--command', sql]);
  return {
    async check(signal) {
      try {
        const { stdout } = await execFile(...argv, { env, signal, timeoutMs, maxOutputBytes: 16 * 1024 });
        return statsOutcome(JSON.parse(stdout) as StatsRow);
      } catch (err) {
        return failure(err, toolReason);
      }
    },
    async close() {},
  };
}

/**
 * One pg Client kept open between checks; when it breaks (server gone, timeout) it is destroyed and the next
 * check connects afresh, so a probe holds at most one server connection.
 */
export function createPostgresChecker(config: PostgresProbeConfig, timeoutMs: number): Checker {
  if (config.exec) return createPostgresExecChecker(config, config.exec, timeoutMs);
  const host = new URL(config.url).hostname;
  let client: Client | undefined;
  let broken = false;

  /** Drops the kept client, or only `which` when given, so a late-failing old check cannot drop a newer one. */
  const drop = (which?: Client) => {
    if (!client || (which && which !== client)) return;
    // end() waits for the server to say goodbye; a hung server would keep the socket, so cut it.
    client.connection.stream.destroy();
    client.end().catch(() => undefined);
    client = undefined;
  };

  const connected = async (signal: AbortSignal): Promise<Client> => {
    if (client && !broken) return client;
    drop();
    const ssl = config.tls ? await tlsConnectOptions(config.tls, host) : undefined;
    signal.throwIfAborted();
    const fresh = new (await loadPg()).Client({
      connectionString: config.url,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      application_name: 'caretaker-probe',
      ...(ssl ? { ssl } : {}),
    });
    broken = false;
    // A connection lost between checks is an 'error' event; it marks the client for replacement.
    fresh.on('error', () => {
      if (client === fresh) broken = true;
    });
    client = fresh;
    try {
      await fresh.connect();
    } catch (err) {
      drop(fresh);
      throw err;
    }
    return fresh;
  };

  return {
    async check(signal) {
      const onAbort = () => drop();
      signal.addEventListener('abort', onAbort, { once: true });
      let db: Client | undefined;
      try {
        db = await connected(signal);
        const result = await db.query<StatsRow>(STATS_SQL);
        const row = result.rows[0];
        if (!row) return { ok: false, reason: 'query', message: 'the statistics query returned no row' };
        return statsOutcome(row);
      } catch (thrown) {
        const err = explained(thrown);
        const reason = postgresReason(err);
        // A query error on a live connection keeps it; connection, auth and timeout errors do not.
        if (db && reason !== 'query' && reason !== 'unsupported') drop(db);
        return failure(err, postgresReason, 'refused');
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    async close() {
      drop();
    },
  };
}
