import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateServerCerts } from './certs.js';
import { requireBinaries } from './deps.js';
import { freePort, retryOnPortClash } from './ports.js';
import { restartable, startServerProcess, type Restartable, type ServerProcess } from './process.js';
import { redisCommand } from './redis-client.js';
import type { RedisServer } from './redis.js';
import { makeTempDir } from './tmpdir.js';

export interface SentinelOptions {
  /** The name the master is monitored under (`sentinel monitor <name> ...`). */
  masterName?: string;
  /** The master's requirepass, for the sentinel's own connection to it (`sentinel auth-pass`). */
  masterPassword?: string;
  /** requirepass of the sentinel itself. */
  password?: string;
  /** How long the master must be silent before the sentinel flags it down. */
  downAfterMs?: number;
  /** Talk TLS to the master (`tls-replication yes`), verifying it against this CA; the master is then given by its TLS port. */
  masterCa?: string;
}

export interface SentinelServer extends Restartable {
  host: string;
  port: number;
  /** host:port, as a probe's `sentinel.addresses` entry. */
  address: string;
  masterName: string;
  /** Temp dir holding the config file, which the sentinel rewrites as it learns. */
  dir: string;
  readonly pid: number;
}

/**
 * A Redis Sentinel (redis-server --sentinel) on 127.0.0.1 and a random port, monitoring `master` with a
 * quorum of 1. Its config lives in its own temp dir because a sentinel rewrites the file it was started with.
 */
export async function startSentinel(master: Pick<RedisServer, 'host' | 'port'>, options: SentinelOptions = {}): Promise<SentinelServer> {
  const bin = requireBinaries(['redis-server', ...(options.masterCa ? (['openssl'] as const) : [])]);
  const masterName = options.masterName ?? 'mymaster';
  const tmp = await makeTempDir('redis-sentinel');
  try {
    // Redis wants a certificate of its own before it talks TLS, even to a master that asks for none.
    const certs = options.masterCa ? await generateServerCerts(tmp.path) : undefined;
    const configFile = path.join(tmp.path, 'sentinel.conf');
    let port = 0;
    let current: ServerProcess | undefined;

    const launch = async () => {
      current = await startServerProcess({
        name: 'redis-sentinel',
        command: bin['redis-server'],
        args: [configFile, '--sentinel'],
        cwd: tmp.path,
        isReady: () => knowsMaster(port, options.password, masterName),
      });
    };

    await retryOnPortClash(async () => {
      port = await freePort();
      await writeFile(configFile, renderConfig({ ...options, masterName, master, dir: tmp.path, port, certs }));
      await launch();
    });

    return {
      host: '127.0.0.1',
      port,
      address: `127.0.0.1:${port}`,
      masterName,
      dir: tmp.path,
      get pid() {
        return current!.pid;
      },
      ...restartable({ down: async () => current?.stop(), launch, cleanup: () => tmp.cleanup() }),
    };
  } catch (error) {
    await tmp.cleanup();
    throw error;
  }
}

async function knowsMaster(port: number, password: string | undefined, masterName: string): Promise<boolean> {
  const reply = await redisCommand({ port, password }, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName);
  return Array.isArray(reply) && reply.length === 2;
}

interface ConfigInput extends SentinelOptions {
  masterName: string;
  master: Pick<RedisServer, 'host' | 'port'>;
  dir: string;
  port: number;
  certs?: { cert: string; key: string };
}

function renderConfig(input: ConfigInput): string {
  const name = input.masterName;
  const lines = [
    `port ${input.port}`,
    'bind 127.0.0.1',
    `dir ${quote(input.dir)}`,
    'daemonize no',
    'logfile ""',
    `sentinel monitor ${name} ${input.master.host} ${input.master.port} 1`,
    `sentinel down-after-milliseconds ${name} ${input.downAfterMs ?? 1_000}`,
    // With no replica a failover can only abort; keep the sentinel from retrying it often.
    `sentinel failover-timeout ${name} 60000`,
  ];
  if (input.masterPassword !== undefined) lines.push(`sentinel auth-pass ${name} ${quote(input.masterPassword)}`);
  if (input.password !== undefined) lines.push(`requirepass ${quote(input.password)}`);
  if (input.masterCa && input.certs) {
    lines.push(
      'tls-replication yes',
      `tls-ca-cert-file ${quote(input.masterCa)}`,
      `tls-cert-file ${quote(input.certs.cert)}`,
      `tls-key-file ${quote(input.certs.key)}`,
    );
  }
  return lines.join('\n') + '\n';
}

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
