import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import bcrypt from 'bcryptjs';
import pino from 'pino';
import { modules } from '../../src/modules/index.js';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/server.js';
import { readWebConfig } from '../../src/metrics/web-config.js';
import { generateServerCerts } from '../harness/certs.js';
import { requireBinaries } from '../harness/deps.js';
import { freePort } from '../harness/ports.js';
import { startServerProcess, type ServerProcess } from '../harness/process.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { allModulesConfig } from './all-modules.js';

/**
 * A real Prometheus (Debian's) scrapes the agent every second and answers PromQL over its HTTP API:
 * in plain HTTP (negotiating OpenMetrics, as Prometheus 2.x does), and through TLS + bcrypt basic auth
 * from a node_exporter web-config file, with a wrong password as the control.
 */
let dir: TempDir;
let agent: TestAgent;
let secured: MetricsServer;
let prometheus: ServerProcess;
let api: string;

before(async () => {
  const { prometheus: binary } = requireBinaries(['prometheus']);
  dir = await makeTempDir('prometheus');
  agent = await startTestAgent(await allModulesConfig(dir.path), modules);
  const certs = await generateServerCerts(dir.path);
  await writeFile(
    join(dir.path, 'web.yml'),
    `tls_server_config: { cert_file: ${certs.cert}, key_file: ${certs.key} }\nbasic_auth_users:\n  prometheus: '${bcrypt.hashSync('scrape-me', 10)}'\n`,
  );
  // The same registry behind a second listener with the web config, as metrics.webConfig sets it up.
  secured = await startMetricsServer(agent.agent.registry, { kind: 'tcp', host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }), { webConfig: readWebConfig(join(dir.path, 'web.yml')) });
  const port = await freePort();
  const tlsJob = (name: string, password: string) =>
    `  - job_name: ${name}\n    scheme: https\n    tls_config: { ca_file: ${certs.ca} }\n    basic_auth: { username: prometheus, password: ${password} }\n    static_configs: [{ targets: ['${secured.address}'] }]\n`;
  await writeFile(
    join(dir.path, 'prometheus.yml'),
    `global: { scrape_interval: 1s, scrape_timeout: 1s }\nscrape_configs:\n  - job_name: caretaker\n    static_configs: [{ targets: ['${agent.metricsAddress}'] }]\n${tlsJob('caretaker-tls', 'scrape-me')}${tlsJob('caretaker-wrong-password', 'nope')}`,
  );
  api = `http://127.0.0.1:${port}`;
  prometheus = await startServerProcess({
    name: 'prometheus',
    command: binary,
    args: [`--config.file=${join(dir.path, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir.path, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`],
    isReady: async () => (await fetch(`${api}/-/ready`)).ok,
  });
});

after(async () => {
  await prometheus?.stop();
  await secured?.close();
  await agent?.close();
  await dir?.cleanup();
});

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(promql: string): Promise<Sample[]> {
  const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as { status: string; data: { result: Sample[] } };
  assert.equal(body.status, 'success', promql);
  return body.data.result;
}

/** Polls until the query returns something; scrapes happen every second, so 20 s is plenty. */
async function eventually(promql: string): Promise<Sample[]> {
  for (let i = 0; i < 100; i++) {
    const result = await query(promql);
    if (result.length > 0) return result;
    await sleep(200);
  }
  assert.fail(`no result for ${promql}; targets: ${await (await fetch(`${api}/api/v1/targets`)).text()}`);
}

test('Prometheus scrapes the agent and answers PromQL for host and module metrics', async () => {
  const [load] = await eventually('node_load1{job="caretaker"}');
  assert.ok(Number(load!.value[1]) >= 0);
  const up = await eventually('caretaker_module_up{job="caretaker"}');
  assert.deepEqual(up.map((s) => [s.metric.module, s.value[1]]).sort(), [['alerts', '1'], ['backups', '1'], ['certificates', '1'], ['logs', '1'], ['probes', '1']]);
  // Counters come through OpenMetrics with their _total names intact.
  const checks = await eventually('sum by (probe) (caretaker_probe_checks_total{job="caretaker"})');
  const probes = (agent.agent.current.sections.get('probes') as Array<{ name: string }>).map((p) => p.name);
  assert.deepEqual(checks.map((s) => s.metric.probe).sort(), probes.sort());
  const [target] = await eventually('up{job="caretaker"} == 1');
  assert.equal(target!.value[1], '1');
});

test('Prometheus scrapes through TLS and basic auth; a wrong password is refused', async () => {
  const [load] = await eventually('node_load1{job="caretaker-tls"}');
  assert.ok(Number(load!.value[1]) >= 0);
  await eventually('caretaker_module_up{job="caretaker-tls",module="certificates"}');
  const [refused] = await eventually('up{job="caretaker-wrong-password"}');
  assert.equal(refused!.value[1], '0');
  assert.deepEqual(await query('caretaker_module_up{job="caretaker-wrong-password"}'), []);
});
