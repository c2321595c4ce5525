import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { requireBinaries } from '../harness/deps.js';
import { baseConfig, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { widgets } from '../helpers/widgets-module.js';

/**
 * node_exporter's own names (node_memory_MemTotal_bytes, …) are camelCase, which promtool's linter
 * flags on node_exporter too; we keep them so existing alert rules and dashboards work.
 */
const NODE_EXPORTER_CAMELCASE = /^node_memory_\w+ metric names should be written in 'snake_case' not 'camelCase'$/;

let t: TestAgent;
before(async () => {
  t = await startTestAgent((dir) => baseConfig(dir, 'widgets:\n  - { name: a }\n').replace('host: false', 'host: true'), [widgets]);
});
after(async () => t.close());

test('promtool check metrics reports nothing on the whole exposition', async () => {
  const { promtool } = requireBinaries(['promtool']);
  const body = await (await fetch(t.metricsUrl())).text();
  const result = spawnSync(promtool, ['check', 'metrics'], { input: body, encoding: 'utf8' });
  const problems = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line && !NODE_EXPORTER_CAMELCASE.test(line));
  assert.deepEqual(problems, []);
});

test('build info, module up and process metrics are exported', async () => {
  const body = await (await fetch(t.metricsUrl())).text();
  assert.match(body, /^caretaker_build_info\{version="0\.0\.0-test",node="20\.[\d.]+"\} 1$/m);
  assert.match(body, /^caretaker_module_up\{module="widgets"\} 1$/m);
  assert.match(body, /^process_resident_memory_bytes \d+/m);
  assert.match(body, /^# TYPE caretaker_widget_pokes_total counter$/m);
  assert.doesNotMatch(body, /nodejs_active_handles_total/);
});

test('the metrics listener answers only /metrics', async () => {
  assert.equal((await fetch(t.metricsUrl().replace('/metrics', '/nope'))).status, 404);
  assert.equal((await fetch(t.metricsUrl(), { method: 'POST' })).status, 405);
});
