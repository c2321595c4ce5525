import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { requireBinaries } from '../../harness/deps.js';
import { startTestAgent, baseConfig, type TestAgent } from '../../helpers/agent.js';
import { probes } from '../../../src/modules/probes/index.js';
import { eventually } from './fixture.js';
import { startHttpServer, type TestHttpServer } from './servers.js';

let server: TestHttpServer;
let agent: TestAgent;

before(async () => {
  server = await startHttpServer();
  agent = await startTestAgent(
    (dir) =>
      baseConfig(
        dir,
        [
          'probes:',
          `  - { name: api, type: http, url: "${server.url}/health", interval: 200ms, timeout: 150ms, critical: true }`,
          `  - { name: extra, type: tcp, address: "127.0.0.1:1", interval: 1h }`,
        ].join('\n'),
      ),
    [probes],
  );
});
after(async () => {
  await agent?.close();
  await server?.close();
});

async function deepHealth(): Promise<{ status: number; body: { checks: Array<{ module: string; name: string; ok: boolean; critical: boolean; message?: string }> } }> {
  const res = await fetch(agent.adminUrl('/health/deep'));
  return { status: res.status, body: (await res.json()) as never };
}

test('/health/deep follows the critical probe: 200, 503 while it is down, 200 again', async () => {
  assert.ok(await eventually(async () => (await deepHealth()).status === 200, 3_000), 'ready once the critical probe is up');
  const healthy = await deepHealth();
  // A non-critical probe that is down does not fail readiness, but it is listed.
  assert.deepEqual(
    healthy.body.checks.map((c) => [c.module, c.name, c.ok, c.critical]),
    [
      ['probes', 'api', true, true],
      ['probes', 'extra', false, false],
    ],
  );

  server.answer = { status: 500, body: 'broken' };
  assert.ok(await eventually(async () => (await deepHealth()).status === 503, 3_000), 'fails while the critical probe is down');
  const failing = await deepHealth();
  assert.equal(failing.body.checks[0]!.message, 'down: status: unexpected status 500');

  server.answer = { status: 200, body: 'ok' };
  assert.ok(await eventually(async () => (await deepHealth()).status === 200, 3_000), 'ready again once it is back');
});

test('GET /probes through the agent, and /metrics passes promtool check metrics', async () => {
  const list = (await (await fetch(agent.adminUrl('/probes'))).json()) as { probes: Array<{ name: string }> };
  assert.deepEqual(list.probes.map((p) => p.name), ['api', 'extra']);
  const exposition = await (await fetch(agent.metricsUrl())).text();
  assert.match(exposition, /caretaker_probe_up\{probe="api",kind="http"\} 1/);
  assert.match(exposition, /caretaker_probe_checks_total\{probe="extra",kind="tcp",result="failure",reason="refused"\} [1-9]/);
  assert.match(exposition, /caretaker_probe_checks_total\{probe="api",kind="http",result="failure",reason="dns"\} 0/);
  assert.match(exposition, /caretaker_probe_duration_seconds_bucket\{le="0.005",probe="api",kind="http"\}/);
  const { promtool } = requireBinaries(['promtool']);
  const lint = spawnSync(promtool, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  const probeProblems = `${lint.stdout}${lint.stderr}`.split('\n').filter((line) => line.includes('caretaker_probe'));
  assert.deepEqual(probeProblems, []);
});
