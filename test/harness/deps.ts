import { accessSync, constants, readdirSync } from 'node:fs';
import path from 'node:path';

/** The Debian package that provides each binary the harness and the tests use. */
const PACKAGE_OF: Record<string, string> = {
  'redis-server': 'redis-server',
  'redis-cli': 'redis-tools',
  postgres: 'postgresql',
  initdb: 'postgresql',
  pg_ctl: 'postgresql',
  pg_isready: 'postgresql',
  psql: 'postgresql',
  pg_dump: 'postgresql',
  pg_restore: 'postgresql',
  pebble: 'pebble',
  'pebble-challtestsrv': 'pebble',
  nginx: 'nginx-light',
  logrotate: 'logrotate',
  promtool: 'prometheus',
  'prometheus-node-exporter': 'prometheus-node-exporter',
  wrk: 'wrk',
  openssl: 'openssl',
  setpriv: 'util-linux',
  sshd: 'openssh-server',
  'ssh-keygen': 'openssh-client',
  ssh: 'openssh-client',
  restic: 'restic',
  rclone: 'rclone',
  certbot: 'certbot',
  chromium: 'chromium',
};

const POSTGRES_LIB = '/usr/lib/postgresql';

/** Debian keeps PostgreSQL's binaries out of PATH, in /usr/lib/postgresql/<major>/bin; the newest wins. */
function postgresBinDir(): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync(POSTGRES_LIB);
  } catch {
    return undefined;
  }
  const newestFirst = versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  return newestFirst
    .map((version) => path.join(POSTGRES_LIB, version, 'bin'))
    .find((dir) => isExecutable(path.join(dir, 'postgres')));
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of a binary, looking in PATH, the sbin dirs (absent from a non-root PATH) and PostgreSQL's dir. */
function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/sbin'];
  if (PACKAGE_OF[name] === 'postgresql') {
    const pgDir = postgresBinDir();
    if (pgDir) dirs.unshift(pgDir);
  }
  return dirs.filter(Boolean).map((dir) => path.join(dir, name)).find(isExecutable);
}

/**
 * Absolute paths of the named binaries. Tests never skip: a missing binary is an error that says which
 * Debian package to install.
 */
export function requireBinaries<Name extends string>(names: readonly Name[]): Record<Name, string> {
  const found = {} as Record<Name, string>;
  const missing: string[] = [];
  for (const name of names) {
    const binary = findBinary(name);
    if (binary) found[name] = binary;
    else missing.push(`${name} (Debian package ${PACKAGE_OF[name] ?? 'unknown'})`);
  }
  if (missing.length > 0) {
    throw new Error(
      `missing test dependencies: ${missing.join(', ')}. Run \`sudo bash test/install-deps.sh\` ` +
        `or apt-get install the packages named.`,
    );
  }
  return found;
}
