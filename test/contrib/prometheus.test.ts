import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { startHostMetrics, type HostMetrics } from '../../src/metrics/host/index.js';
import { requireBinaries } from '../harness/deps.js';
import { runCommand } from '../harness/process.js';
import { makeTempDir } from '../harness/tmpdir.js';
import { fileURLToPath } from 'node:url';

const CONTRIB = fileURLToPath(new URL('../../contrib/prometheus', import.meta.url));

interface Rule {
  alert: string;
  expr: string;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface RuleTests {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

function rules(): Rule[] {
  const file = parse(readFileSync(path.join(CONTRIB, 'alerts.yml'), 'utf8')) as RuleFile;
  return file.groups.flatMap((group) => group.rules);
}

function rule(name: string): Rule {
  const found = rules().find((r) => r.alert === name);
  assert.ok(found, `alerts.yml has no rule ${name}`);
  return found;
}

describe('contrib/prometheus', () => {
  let promtool: string;
  before(() => {
    promtool = requireBinaries(['promtool']).promtool;
  });

  it('alerts.yml passes promtool check rules', async () => {
    const out = await runCommand(promtool, ['check', 'rules', path.join(CONTRIB, 'alerts.yml')]);
    assert.match(out, /SUCCESS: 13 rules found/);
  });

  it('alerts.test.yml passes promtool test rules', async () => {
    const out = await runCommand(promtool, ['test', 'rules', 'alerts.test.yml'], { cwd: CONTRIB });
    assert.match(out, /SUCCESS/);
  });

  it('every rule has a unit test in which it fires', () => {
    const tests = parse(readFileSync(path.join(CONTRIB, 'alerts.test.yml'), 'utf8')) as RuleTests;
    const firing = new Set(
      tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname)),
    );
    const untested = rules()
      .map((r) => r.alert)
      .filter((name) => !firing.has(name));
    assert.deepEqual(untested, []);
  });

  it('prometheus.yml passes promtool check config, rule file included', async () => {
    const out = await runCommand(promtool, ['check', 'config', path.join(CONTRIB, 'prometheus.yml')]);
    assert.match(out, /prometheus\.yml is valid/);
    assert.match(out, /SUCCESS: 13 rules found/);
  });
});

describe("the host rules on the agent's own series", () => {
  let registry: Registry;
  let host: HostMetrics;
  let promtool: string;

  before(async () => {
    promtool = requireBinaries(['promtool']).promtool;
    registry = new Registry();
    host = startHostMetrics(registry, { intervalMs: 60_000, log: pino({ level: 'silent' }) });
    await host.refresh();
  });
  after(() => host.stop());

  it('refers only to node_* metrics the agent exports', async () => {
    const exported = new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
    const referenced = new Set(rules().flatMap((r) => r.expr.match(/\bnode_[a-zA-Z0-9_]+/g) ?? []));
    assert.ok(referenced.size > 0);
    assert.deepEqual([...referenced].filter((name) => !exported.has(name)), []);
  });

  /**
   * Feeds the agent's live samples to promtool and evaluates the rule's expression exactly as written,
   * and its left-hand side without the threshold (so the label matching is proven even when this
   * machine is nowhere near the threshold). Expected values are computed here from the same samples.
   */
  async function evaluateOnAgentSeries(
    alert: string,
    families: string[],
    expected: (value: (name: string, labels: Record<string, string>) => number) => { labels: Record<string, string>; value: number }[],
    threshold: (value: number) => boolean,
  ): Promise<number> {
    const metrics = (await registry.getMetricsAsJSON()).filter((metric) => families.includes(metric.name));
    const extra = { job: 'caretaker', instance: 'host:9471' };
    const inputSeries = metrics.flatMap((metric) =>
      metric.values.map((v) => ({ series: seriesName(metric.name, { ...v.labels, ...extra }), values: `${v.value}x5` })),
    );
    const valueOf = (name: string, labels: Record<string, string>) => {
      const found = metrics.find((m) => m.name === name)?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
      assert.ok(found, `no ${name} ${JSON.stringify(labels)}`);
      return found.value;
    };
    const lhs = expected(valueOf).map((s) => ({ ...s, labels: { ...s.labels, ...extra } }));
    assert.ok(lhs.length > 0, `${alert}: the agent exports series it applies to`);
    const { expr } = rule(alert);
    const comparison = /^(.*\S)\s*[<>]=?\s*[\d.]+\s*$/s.exec(expr.trim());
    assert.ok(comparison, `${alert}: expression ends in a threshold: ${expr}`);
    const exp = (samples: typeof lhs) => samples.map((s) => ({ labels: seriesName('', s.labels), value: s.value }));
    const testFile = {
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: inputSeries,
          promql_expr_test: [
            { expr: comparison[1], eval_time: '2m', exp_samples: exp(lhs) },
            { expr, eval_time: '2m', exp_samples: exp(lhs.filter((s) => threshold(s.value))) },
          ],
        },
      ],
    };
    const dir = await makeTempDir('promtool');
    try {
      const file = path.join(dir.path, 'agent-series.test.yml');
      await writeFile(file, JSON.stringify(testFile));
      assert.match(await runCommand(promtool, ['test', 'rules', file]), /SUCCESS/);
    } finally {
      await dir.cleanup();
    }
    return lhs.length;
  }

  it('DiskSpaceLow evaluates unchanged on node_filesystem_* as the agent exports them', async () => {
    const filesystems = (await registry.getMetricsAsJSON()).find((m) => m.name === 'node_filesystem_size_bytes')!.values;
    const count = await evaluateOnAgentSeries(
      'DiskSpaceLow',
      ['node_filesystem_avail_bytes', 'node_filesystem_size_bytes'],
      (value) =>
        filesystems
          .filter((fs) => !/^(tmpfs|overlay)$/.test(String(fs.labels.fstype)))
          .map((fs) => {
            const labels = Object.fromEntries(Object.entries(fs.labels).map(([k, v]) => [k, String(v)]));
            return { labels, value: (value('node_filesystem_avail_bytes', labels) / value('node_filesystem_size_bytes', labels)) * 100 };
          }),
      (percent) => percent < 10,
    );
    assert.ok(count >= 1);
  });

  it('HighMemoryUsage evaluates unchanged on node_memory_* as the agent exports them', async () => {
    await evaluateOnAgentSeries(
      'HighMemoryUsage',
      ['node_memory_MemAvailable_bytes', 'node_memory_MemTotal_bytes'],
      (value) => [{ labels: {}, value: (1 - value('node_memory_MemAvailable_bytes', {}) / value('node_memory_MemTotal_bytes', {})) * 100 }],
      (percent) => percent > 90,
    );
  });
});

/** `name{a="x",b="y"}` in the series notation promtool's input_series and exp_samples take. */
function seriesName(name: string, labels: Record<string, string | number>): string {
  const inner = Object.entries(labels)
    .map(([key, value]) => `${key}=${JSON.stringify(String(value))}`)
    .join(',');
  return `${name}{${inner}}`;
}
