import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generateServerCerts } from './certs.js';
import { requireBinaries } from './deps.js';
import { freePort, retryOnPortClash } from './ports.js';
import { startServerProcess, type ServerProcess, restartable, type Restartable } from './process.js';
import { redisCommand } from './redis-client.js';
import { makeTempDir } from './tmpdir.js';

export interface RedisOptions {
  password?: string;
  /** Also listen with TLS on tlsPort (the plain port stays open). */
  tls?: boolean;
  /** Appended to the command line, e.g. ['--maxmemory', '10mb']. */
  extraArgs?: string[];
  /** rename-command entries; map a command to '' to disable it. */
  renameCommands?: Record<string, string>;
}

export interface RedisServer extends Restartable {
  host: string;
  port: number;
  tlsPort?: number;
  /** redis://[:password@]127.0.0.1:port (the plain port). */
  url: string;
  /** rediss://[:password@]127.0.0.1:tlsPort; set when tls is on. */
  tlsUrl?: string;
  /** Temp dir holding the config, the data dir and the TLS files. */
  dir: string;
  /** CA (PEM path) that signed the TLS certificate; set when tls is on. */
  ca?: string;
  readonly pid: number;
}

/** A redis-server on 127.0.0.1 and a random port, with no persistence, in its own temp dir. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const bin = requireBinaries(['redis-server', ...(options.tls ? (['openssl'] as const) : [])]);
  const tmp = await makeTempDir('redis');
  try {
    const certs = options.tls ? await generateServerCerts(tmp.path) : undefined;
    const configFile = path.join(tmp.path, 'redis.conf');

    let port = 0;
    let tlsPort: number | undefined;
    let current: ServerProcess | undefined;

    const launch = async () => {
      current = await startServerProcess({
        name: 'redis-server',
        command: bin['redis-server'],
        args: [configFile, ...(options.extraArgs ?? [])],
        cwd: tmp.path,
        isReady: () => answersPing(port, options.password),
      });
    };

    await retryOnPortClash(async () => {
      port = await freePort();
      tlsPort = certs ? await freePort() : undefined;
      await writeFile(configFile, renderConfig({ ...options, dir: tmp.path, port, tlsPort, certs }));
      await launch();
    });

    const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
    const down = async () => {
      await current?.stop();
    };
    return {
      host: '127.0.0.1',
      port,
      tlsPort,
      url: `redis://${auth}127.0.0.1:${port}`,
      tlsUrl: tlsPort ? `rediss://${auth}127.0.0.1:${tlsPort}` : undefined,
      dir: tmp.path,
      ca: certs?.ca,
      get pid() {
        return current!.pid;
      },
      ...restartable({ down, launch, cleanup: () => tmp.cleanup() }),
    };
  } catch (error) {
    await tmp.cleanup();
    throw error;
  }
}

async function answersPing(port: number, password: string | undefined): Promise<boolean> {
  try {
    return (await redisCommand({ port, password }, 'PING')) === 'PONG';
  } catch (error) {
    // A test may have renamed PING away; the server answering at all is then the sign of life.
    return /unknown command/i.test(String(error));
  }
}

interface ConfigInput extends RedisOptions {
  dir: string;
  port: number;
  tlsPort?: number;
  certs?: { ca: string; cert: string; key: string };
}

// A config file rather than flags because rename-command is only accepted there.
function renderConfig(input: ConfigInput): string {
  const lines = [
    `port ${input.port}`,
    'bind 127.0.0.1',
    `dir ${quote(input.dir)}`,
    'save ""',
    'appendonly no',
    'daemonize no',
    'logfile ""',
  ];
  if (input.password !== undefined) lines.push(`requirepass ${quote(input.password)}`);
  if (input.certs && input.tlsPort) {
    lines.push(
      `tls-port ${input.tlsPort}`,
      `tls-cert-file ${quote(input.certs.cert)}`,
      `tls-key-file ${quote(input.certs.key)}`,
      `tls-ca-cert-file ${quote(input.certs.ca)}`,
      'tls-auth-clients no',
    );
  }
  for (const [command, newName] of Object.entries(input.renameCommands ?? {})) {
    lines.push(`rename-command ${command} ${quote(newName)}`);
  }
  return lines.join('\n') + '\n';
}

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
