// The Debian exporters this module replaces, started by the bench on loopback ports with their files in a
// temp dir (never the packaged systemd services), each with only the collectors the agent's checks match.
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

/** What the agent's postgres probe reads in its one query (src/modules/probes/kinds/postgres.ts), as gauges. */
const POSTGRES_QUERIES = JSON.stringify({
  caretaker_probe_equivalent: {
    query: `SELECT current_setting('server_version_num')::int AS version_num, current_setting('max_connections')::int AS max_connections,
      (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS connections, pg_is_in_recovery()::int AS in_recovery,
      CASE WHEN pg_is_in_recovery() THEN COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)::float8 ELSE 0 END AS replication_lag_seconds,
      COALESCE((SELECT EXTRACT(EPOCH FROM max(now() - xact_start)) FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()), 0)::float8 AS oldest_transaction_seconds,
      pg_database_size(current_database())::float8 AS database_size_bytes`,
    metrics: ['version_num', 'max_connections', 'connections', 'in_recovery', 'replication_lag_seconds', 'oldest_transaction_seconds', 'database_size_bytes'].map((name) => ({
      [name]: { usage: 'GAUGE', description: `the agent's postgres probe's ${name}` },
    })),
  },
});

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
  const queriesFile = path.join(input.dir, 'postgres-queries.yaml');
  await writeFile(queriesFile, POSTGRES_QUERIES);
  const listen = (port: number) => `--web.listen-address=127.0.0.1:${port}`;
  const started: Exporter[] = [];
  try {
    // Equal work: INFO ALL and nothing else per scrape (no CONFIG GET, no CLIENT SETNAME, none of its own Go metrics).
    const redis = await start(BINARIES.redis, (port) => [`-web.listen-address=127.0.0.1:${port}`, `-redis.addr=${input.redisUrl}`, '-config-command=-', '-set-client-name=false', '-redis-only-metrics']);
    started.push(redis);
    // Equal work: no default collectors or pg_settings, only the agent's own stats query.
    const postgres = await start(
      BINARIES.postgres,
      (port) => [listen(port), '--log.level=warn', '--disable-default-metrics', '--disable-settings-metrics', '--no-collector.database', '--no-collector.bgwriter', `--extend.query-path=${queriesFile}`],
      { ...process.env, DATA_SOURCE_NAME: `${input.postgresUrl}?sslmode=disable` },
    );
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
