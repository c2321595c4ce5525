import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFile, isExecutable } from '../../../agent/kit/exec.js';

const DEBIAN_PG_LIB = '/usr/lib/postgresql';

/**
 * Path of a PostgreSQL client tool. Debian keeps one set per major version in /usr/lib/postgresql/<major>/bin;
 * the newest dumps every older server, so it wins. Falls back to PATH.
 */
export function pgTool(name: 'pg_dump' | 'pg_dumpall' | 'pg_restore' | 'psql', binDir: string | undefined): string {
  if (binDir) return join(binDir, name);
  let majors: string[] = [];
  try {
    majors = readdirSync(DEBIAN_PG_LIB).filter((v) => /^\d+$/.test(v));
  } catch {
    // Not Debian's layout; PATH decides.
  }
  const found = majors
    .sort((a, b) => Number(b) - Number(a))
    .map((major) => join(DEBIAN_PG_LIB, major, 'bin', name))
    .find(isExecutable);
  return found ?? name;
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
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  const env: NodeJS.ProcessEnv = { PGCONNECT_TIMEOUT: String(PG_CONNECT_TIMEOUT_S), ...process.env };
  if (password) env.PGPASSWORD = password;
  return { url: parsed.toString(), env };
}

/** `pg_dump (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)` → 15.8 */
export function parseToolVersion(output: string): string | undefined {
  return /\(PostgreSQL\)\s+(\d+(?:\.\d+)?)/.exec(output)?.[1];
}

export function majorOf(version: string): number {
  return Number(version.split('.')[0]);
}

/** The server's version, asked over a short-lived connection bounded by the caller's signal. */
export async function serverVersion(url: string, signal: AbortSignal): Promise<string> {
  // pg is loaded on first use, so an agent without PostgreSQL jobs never pays for it.
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_S * 1000, query_timeout: 15_000 });
  const onAbort = () => void client.end().catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    // `15.8 (Debian 15.8-1.pgdg120+1)` → 15.8
    return (result.rows[0]?.server_version ?? '').split(' ')[0] ?? '';
  } finally {
    signal.removeEventListener('abort', onAbort);
    await client.end().catch(() => undefined);
  }
}

async function toolVersion(tool: string, signal: AbortSignal): Promise<string> {
  const { stdout } = await execFile(tool, ['--version'], { signal, timeoutMs: 10_000 });
  return parseToolVersion(stdout) ?? stdout.trim();
}

/**
 * Versions of a dump tool and the server, for the manifest; refuses a tool older than the server, which
 * cannot dump it, with what to do about it.
 */
export async function checkedToolVersions(
  name: 'pg_dump' | 'pg_dumpall',
  job: { url: string; binDir?: string | undefined },
  signal: AbortSignal,
): Promise<Record<string, string>> {
  const tool = pgTool(name, job.binDir);
  const [version, server] = await Promise.all([toolVersion(tool, signal), serverVersion(job.url, signal)]);
  if (majorOf(version) < majorOf(server)) {
    throw new Error(
      `${tool} is version ${version} but the server runs ${server}: ${name} cannot dump a newer server; ` +
        `install the PostgreSQL ${majorOf(server)} client tools or set binDir`,
    );
  }
  return { [name]: version, server };
}
