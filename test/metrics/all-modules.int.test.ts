import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { modules } from '../../src/modules/index.js';
import { requireBinaries } from '../harness/deps.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { allModulesConfig } from './all-modules.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** node_exporter's own camelCase names (node_memory_MemTotal_bytes, …), kept so existing rules and dashboards work. */
const NODE_EXPORTER_CAMELCASE = /^node_memory_\w+ metric names should be written in 'snake_case' not 'camelCase'$/;
const PROMQL_WORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

let dir: TempDir;
let t: TestAgent;
let exposition: string;

before(async () => {
  dir = await makeTempDir('all-modules');
  t = await startTestAgent(await allModulesConfig(dir.path), modules);
  // Modules start in the background; wait (bounded) until every one reports running.
  for (let i = 0; i < 100; i++) {
    const status = (await (await fetch(t.adminUrl('/status'))).json()) as { modules: Array<{ state: string }> };
    if (status.modules.every((m) => m.state === 'running')) break;
    await sleep(50);
  }
  exposition = await (await fetch(t.metricsUrl())).text();
});
after(async () => {
  await t.close();
  await dir.cleanup();
});

interface Dashboard {
  panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
  templating: { list: Array<{ name: string; type: string; definition?: string }> };
}

async function dashboard(): Promise<Dashboard> {
  return JSON.parse(await readFile(join(root, 'contrib', 'grafana', 'caretaker.json'), 'utf8')) as Dashboard;
}

/** Grafana's variables replaced by values PromQL accepts, so an expression can be parsed or run. */
function withoutVariables(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h').replaceAll('$instance', '.*');
}

/** Metric names in a PromQL expression: identifiers outside strings, label matchers, groupings and ranges that are not functions. */
function metricNames(expr: string): string[] {
  const stripped = withoutVariables(expr)
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)) {
    if (!match[2] && !PROMQL_WORDS.has(match[1]!.toLowerCase())) names.add(match[1]!);
  }
  return [...names];
}

function exported(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const family = /^# TYPE (\S+) (\w+)$/.exec(line);
    if (family) {
      names.add(family[1]!);
      if (family[2] === 'histogram' || family[2] === 'summary') for (const suffix of ['_bucket', '_sum', '_count']) names.add(family[1]! + suffix);
    } else if (line && !line.startsWith('#')) {
      names.add(/^[^{ ]+/.exec(line)![0]);
    }
  }
  return names;
}

test('promtool check metrics is clean on the whole output with every module configured', () => {
  const { promtool } = requireBinaries(['promtool']);
  for (const family of ['caretaker_cert_', 'caretaker_backup_', 'caretaker_probe_', 'caretaker_log_', 'node_load1']) {
    assert.match(exposition, new RegExp(`^# TYPE ${family}`, 'm'), family);
  }
  const result = spawnSync(promtool, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  const problems = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line && !NODE_EXPORTER_CAMELCASE.test(line));
  assert.deepEqual(problems, []);
});

test('metricNames finds metric names and nothing else', () => {
  assert.deepEqual(
    metricNames('histogram_quantile(0.95, sum by (probe, le) (rate(a_bucket{x="y",instance=~"$instance"}[$__rate_interval]))) / on(instance) b and c offset 5m > bool 1e3'),
    ['a_bucket', 'b', 'c'],
  );
});

test('every metric the Grafana dashboard queries is exported by a live agent with every module configured', async () => {
  const board = await dashboard();
  const expressions = board.panels.flatMap((p) => (p.targets ?? []).map((target) => target.expr));
  const variableQueries = board.templating.list.flatMap((v) => (v.definition ? [/label_values\(([^,)]+)/.exec(v.definition)![1]!] : []));
  const used = new Set([...expressions.flatMap(metricNames), ...variableQueries]);
  assert.ok(used.size >= 40, `only ${used.size} metric names found`);
  const available = exported(exposition);
  assert.deepEqual([...used].filter((name) => !available.has(name)), []);
  for (const section of ['Agent', 'Certificates', 'Backups', 'Probes', 'Logs', 'Host']) {
    assert.ok(board.panels.some((p) => p.type === 'row' && p.title === section), section);
  }
});

test('every dashboard expression is valid PromQL (promtool check rules)', async () => {
  const { promtool } = requireBinaries(['promtool']);
  const board = await dashboard();
  const rules = board.panels.flatMap((p) => (p.targets ?? []).map((target, i) => ({ record: `panel_${i}`, expr: withoutVariables(target.expr) })));
  assert.ok(rules.length > 30);
  const file = join(dir.path, 'dashboard-rules.yml');
  await writeFile(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
  const result = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
  assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
});
