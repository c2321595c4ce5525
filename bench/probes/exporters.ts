// The Debian exporters this module replaces, started by the bench on loopback ports with their files in a
// temp dir (never the packaged systemd services).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { requirePackages } from '../require-packages.js';
import { canConnect, freePort, retryOnPortClash } from '../../test/harness/ports.js';
import { startServerProcess, type ServerProcess } from '../../test/harness/process.js';

const BINARIES = {
  redis: 'prometheus-redis-exporter',
  postgres: 'prometheus-postgres-exporter',
  blackbox: 'prometheus-blackbox-exporter',
} as const;

export interface Exporter {
  port: number;
  process: ServerProcess;
}

export interface Exporters {
  redis: Exporter;
  postgres: Exporter;
  blackbox: Exporter;
}

/** Fails with the apt-get line when one is missing: the Debian package of each has the binary's name. */
export function requireExporters(): void {
  requirePackages(Object.fromEntries(Object.values(BINARIES).map((name) => [name, name])));
}

/** Blackbox modules doing what the agent's http and tcp probes do: status 200 plus body match, plain connect. */
function blackboxConfig(bodyMatch: string, timeoutS: number): string {
  return JSON.stringify({
    modules: {
      http_ok: {
        prober: 'http',
        timeout: `${timeoutS}s`,
        http: { valid_status_codes: [200], fail_if_body_not_matches_regexp: [bodyMatch], preferred_ip_protocol: 'ip4', follow_redirects: false },
      },
      tcp_connect: { prober: 'tcp', timeout: `${timeoutS}s`, tcp: { preferred_ip_protocol: 'ip4' } },
    },
  });
}

async function start(name: string, args: (port: number) => string[], env: NodeJS.ProcessEnv = process.env): Promise<Exporter> {
  return retryOnPortClash(async () => {
    const port = await freePort();
    const child = await startServerProcess({
      name,
      command: `/usr/bin/${name}`,
      args: args(port),
      env,
      isReady: () => canConnect(port),
      stopTimeoutMs: 5_000,
    });
    return { port, process: child };
  });
}

export async function startExporters(input: {
  dir: string;
  redisUrl: string;
  postgresUrl: string;
  bodyMatch: string;
  timeoutS: number;
}): Promise<Exporters> {
  const blackboxFile = path.join(input.dir, 'blackbox.yml');
  await writeFile(blackboxFile, blackboxConfig(input.bodyMatch, input.timeoutS));
  const listen = (port: number) => `--web.listen-address=127.0.0.1:${port}`;
  const started: Exporter[] = [];
  try {
    const redis = await start(BINARIES.redis, (port) => [`-web.listen-address=127.0.0.1:${port}`, `-redis.addr=${input.redisUrl}`]);
    started.push(redis);
    const postgres = await start(BINARIES.postgres, (port) => [listen(port), '--log.level=warn'], {
      ...process.env,
      DATA_SOURCE_NAME: `${input.postgresUrl}?sslmode=disable`,
    });
    started.push(postgres);
    const blackbox = await start(BINARIES.blackbox, (port) => [listen(port), `--config.file=${blackboxFile}`, '--log.level=warn']);
    return { redis, postgres, blackbox };
  } catch (error) {
    await Promise.all(started.map((e) => e.process.stop()));
    throw error;
  }
}

export async function stopExporters(exporters: Exporters): Promise<void> {
  await Promise.all(Object.values(exporters).map((e: Exporter) => e.process.stop()));
}
