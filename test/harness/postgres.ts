import { randomBytes } from 'node:crypto';
import { appendFile, chmod, chown, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateServerCerts } from './certs.js';
import { requireBinaries } from './deps.js';
import { freePort, retryOnPortClash } from './ports.js';
import { runCommand, startServerProcess, type ServerProcess, restartable, type Restartable } from './process.js';
import { makeTempDir } from './tmpdir.js';

export interface PostgresOptions {
  /** Also accept TLS connections, with a certificate for 127.0.0.1/localhost signed by `ca`. */
  ssl?: boolean;
  /** Password of the `postgres` superuser; random when omitted. */
  password?: string;
  /**
   * No TCP at all: a unix socket in a directory only the postgres user may enter, with peer authentication,
   * so only a process running as that OS user gets in (a database reached through `exec: [runuser, ...]`).
   * `url` then names the socket directory in its query (libpq's host=, which wins over the URL's host) and `psql` runs as the postgres user.
   */
  socketOnly?: boolean;
}

export interface PostgresServer extends Restartable {
  host: string;
  port: number;
  password: string;
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  dataDir: string;
  socketDir: string;
  /** CA (PEM path) to use with sslmode=verify-full; set when ssl is on. */
  ca?: string;
  readonly pid: number;
  /** Runs SQL through psql over TCP as the superuser; resolves with unaligned, tuples-only stdout. */
  psql(sql: string, database?: string): Promise<string>;
}

/**
 * A throwaway PostgreSQL cluster on 127.0.0.1 and a random port. It runs as the `postgres` user because
 * PostgreSQL refuses root; the whole temp dir is handed to that user. TCP always needs the password.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = requireBinaries(['initdb', 'postgres', 'pg_isready', 'psql', ...(options.ssl ? (['openssl'] as const) : [])]);
  const owner = await postgresUser();
  const password = options.password ?? randomBytes(12).toString('hex');
  const tmp = await makeTempDir('postgres');
  try {
    const dataDir = path.join(tmp.path, 'data');
    const socketDir = path.join(tmp.path, 'socket');
    const passwordFile = path.join(tmp.path, 'pwfile');
    await mkdir(socketDir, { mode: options.socketOnly ? 0o700 : 0o755 });
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    const certs = options.ssl ? await generateServerCerts(tmp.path) : undefined;
    await chownTree(tmp.path, owner);

    await runCommand(
      bin.initdb,
      [
        '-D', dataDir, '-U', 'postgres', '--pwfile', passwordFile,
        ...(options.socketOnly ? ['--auth-local=peer', '--auth-host=reject'] : ['-A', 'scram-sha-256']),
        '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions',
      ],
      { ...owner, cwd: tmp.path },
    );
    // Settings live in their own file so a retry on a port clash can rewrite the port.
    await appendFile(path.join(dataDir, 'postgresql.conf'), "\ninclude 'harness.conf'\n");
    const settingsFile = path.join(dataDir, 'harness.conf');

    let port = 0;
    let current: ServerProcess | undefined;
    const launch = async () => {
      current = await startServerProcess({
        name: 'postgres',
        command: bin.postgres,
        args: ['-D', dataDir],
        cwd: tmp.path,
        ...owner,
        isReady: async () => {
          await runCommand(bin.pg_isready, ['-q', '-h', options.socketOnly ? socketDir : '127.0.0.1', '-p', String(port)], { timeoutMs: 5_000 });
          return true;
        },
        // SIGTERM is a "smart" shutdown that waits for clients to leave; SIGINT disconnects them.
        stopSignal: 'SIGINT',
      });
    };
    await retryOnPortClash(async () => {
      port = await freePort();
      await writeFile(settingsFile, renderSettings(port, socketDir, certs, options.socketOnly === true));
      await chown(settingsFile, owner.uid, owner.gid);
      await launch();
    });

    const down = async () => {
      await current?.stop();
    };
    return {
      host: '127.0.0.1',
      port,
      password,
      url: options.socketOnly
        ? `postgres://postgres@localhost/postgres?host=${encodeURIComponent(socketDir)}&port=${port}`
        : `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
      dataDir,
      socketDir,
      ca: certs?.ca,
      get pid() {
        return current!.pid;
      },
      psql: (sql, database = 'postgres') =>
        runCommand(
          bin.psql,
          ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', options.socketOnly ? socketDir : '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', database, '-c', sql],
          options.socketOnly ? { ...owner, cwd: tmp.path } : { env: { ...process.env, PGPASSWORD: password } },
        ),
      ...restartable({ down, launch, cleanup: () => tmp.cleanup() }),
    };
  } catch (error) {
    await tmp.cleanup();
    throw error;
  }
}

function renderSettings(port: number, socketDir: string, certs: { cert: string; key: string } | undefined, socketOnly: boolean): string {
  const lines = [
    `listen_addresses = '${socketOnly ? '' : '127.0.0.1'}'`,
    `port = ${port}`,
    `unix_socket_directories = '${socketDir}'`,
    // Durability buys nothing in a throwaway cluster and costs seconds.
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
  ];
  if (certs) lines.push('ssl = on', `ssl_cert_file = '${certs.cert}'`, `ssl_key_file = '${certs.key}'`);
  return lines.join('\n') + '\n';
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([
    runCommand('id', ['-u', 'postgres']),
    runCommand('id', ['-g', 'postgres']),
  ]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

/** Gives dir and everything in it to the user; the server key must also be private to it. */
async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await chown(dir, owner.uid, owner.gid);
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name);
    await chown(file, owner.uid, owner.gid);
    if (entry.isFile()) await chmod(file, 0o600);
  }
}
