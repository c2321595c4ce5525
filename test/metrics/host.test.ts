import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { Registry } from 'prom-client';
import { MEMINFO_FIELDS } from '../../src/metrics/host/memory.js';
import { startHostMetrics, type HostMetrics } from '../../src/metrics/host/index.js';
import { requireBinaries } from '../harness/deps.js';
import { freePort, retryOnPortClash } from '../harness/ports.js';
import { runCommand, startServerProcess, type ServerProcess } from '../harness/process.js';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** One exposition's samples: metric name → canonical label string → value, plus each family's TYPE. */
interface Exposition {
  samples: Map<string, Map<string, number>>;
  types: Map<string, string>;
}

function parseExposition(text: string): Exposition {
  const samples = new Map<string, Map<string, number>>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    assert.ok(match, `unparsable exposition line: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, name, value]) => `${name}=${JSON.stringify(value)}`)
      .sort()
      .join(',');
    const family = samples.get(match[1]!) ?? new Map<string, number>();
    family.set(labels, Number(match[3]));
    samples.set(match[1]!, family);
  }
  return { samples, types };
}

function procLines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n');
}

function sample(exposition: Exposition, name: string, labels = ''): number {
  const value = exposition.samples.get(name)?.get(labels);
  assert.notEqual(value, undefined, `no sample ${name}{${labels}}`);
  return value!;
}

/** The host families with their series, leaving out node_exporter's self-reporting (node_scrape_*), which differs by design. */
function hostFamilies(exposition: Exposition): Map<string, Map<string, number>> {
  return new Map([...exposition.samples].filter(([name]) => name.startsWith('node_') && !name.startsWith('node_scrape_')));
}

describe('host metrics', () => {
  let registry: Registry;
  let host: HostMetrics;

  before(async () => {
    registry = new Registry();
    host = startHostMetrics(registry, { intervalMs: 60_000, log });
    await host.refresh();
  });
  after(() => host.stop());

  it('publishes values that agree with /proc', async () => {
    const exposition = parseExposition(await registry.metrics());

    const cpus = procLines('/proc/stat').filter((line) => /^cpu\d+ /.test(line)).length;
    assert.equal(exposition.samples.get('node_cpu_seconds_total')!.size, cpus * 8);
    assert.equal(exposition.types.get('node_cpu_seconds_total'), 'counter');
    const userTicks = Number(procLines('/proc/stat').find((line) => line.startsWith('cpu0 '))!.split(/\s+/)[1]);
    const user0 = sample(exposition, 'node_cpu_seconds_total', 'cpu="0",mode="user"');
    assert.ok(user0 <= userTicks / 100 && user0 > userTicks / 100 - 5, `cpu0 user ${user0} vs /proc/stat ${userTicks / 100}`);

    const memTotalKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
    assert.equal(sample(exposition, 'node_memory_MemTotal_bytes'), memTotalKiB * 1024);
    for (const field of MEMINFO_FIELDS) {
      const value = sample(exposition, `node_memory_${field}_bytes`);
      assert.ok(value >= 0 && value <= Math.max(memTotalKiB * 1024, sample(exposition, 'node_memory_SwapTotal_bytes')), `${field} = ${value}`);
    }

    for (const name of ['node_load1', 'node_load5', 'node_load15']) {
      assert.ok(sample(exposition, name) >= 0, name);
      assert.equal(exposition.types.get(name), 'gauge');
    }

    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
    assert.equal(sample(exposition, 'node_boot_time_seconds'), btime);
    assert.ok(Math.abs(sample(exposition, 'node_time_seconds') - Date.now() / 1000) < 5);

    const root = await statfs('/');
    const rootLabels = [...exposition.samples.get('node_filesystem_size_bytes')!.keys()].find((labels) => labels.includes('mountpoint="/"'));
    assert.ok(rootLabels, 'the root filesystem is exported');
    assert.equal(sample(exposition, 'node_filesystem_size_bytes', rootLabels), root.blocks * root.bsize);
    assert.equal(sample(exposition, 'node_filesystem_files', rootLabels), root.files);
    assert.equal(sample(exposition, 'node_filesystem_device_error', rootLabels), 0);
    const avail = sample(exposition, 'node_filesystem_avail_bytes', rootLabels);
    assert.ok(avail <= sample(exposition, 'node_filesystem_free_bytes', rootLabels) && avail > 0);

    const interfaces = procLines('/proc/net/dev')
      .slice(2)
      .filter((line) => line.includes(':'))
      .map((line) => line.split(':')[0]!.trim())
      .filter((name) => name !== 'lo');
    assert.deepEqual(
      [...exposition.samples.get('node_network_receive_bytes_total')!.keys()].sort(),
      interfaces.map((name) => `device=${JSON.stringify(name)}`).sort(),
    );
    assert.equal(exposition.types.get('node_network_receive_bytes_total'), 'counter');

    const disks = exposition.samples.get('node_disk_read_bytes_total')!;
    assert.ok([...disks.keys()].every((labels) => !/device="(loop|ram)\d/.test(labels)), `partitions and loop devices excluded: ${[...disks.keys()]}`);

    const success = exposition.samples.get('node_scrape_collector_success')!;
    assert.equal(success.size, 7);
    assert.ok([...success.values()].every((value) => value === 1), `every collector succeeded: ${[...success]}`);
  });

  it("passes promtool check metrics but for node_exporter's own camelCase meminfo names", async () => {
    const { promtool } = requireBinaries(['promtool']);
    const findings = await runCommand('sh', ['-c', `"${promtool}" check metrics; true`], { input: await registry.metrics() });
    const unexpected = findings
      .split('\n')
      .filter((line) => line.trim() !== '')
      .filter((line) => !MEMINFO_FIELDS.some((field) => line === `node_memory_${field}_bytes metric names should be written in 'snake_case' not 'camelCase'`));
    assert.deepEqual(unexpected, []);
  });

  it('costs little CPU per refresh', async (t) => {
    const rounds = 50;
    const before = process.cpuUsage();
    for (let i = 0; i < rounds; i++) await host.refresh();
    const used = process.cpuUsage(before);
    const perRefreshMs = (used.user + used.system) / 1000 / rounds;
    t.diagnostic(`CPU per refresh: ${perRefreshMs.toFixed(2)} ms`);
    assert.ok(perRefreshMs < 20, `a refresh took ${perRefreshMs} ms of CPU`);
  });

  it('refreshes in the background on its interval and stops cleanly', async () => {
    const own = new Registry();
    const background = startHostMetrics(own, { intervalMs: 20, log });
    const durations = async () => (await own.getSingleMetric('node_scrape_collector_duration_seconds')!.get()).values.map((v) => v.value).join();
    await background.refresh();
    const first = await durations();
    let changed = false;
    for (let i = 0; i < 100 && !changed; i++) {
      await sleep(20);
      changed = (await durations()) !== first;
    }
    assert.ok(changed, 'a refresh ran without being asked');
    background.stop();
    background.stop();
    assert.equal((await own.metrics()).trim(), '');
    await background.refresh();
    // The names are free again, so host metrics can be switched back on after a reload.
    startHostMetrics(own, { intervalMs: 60_000, log }).stop();
  });
});

describe('host metrics against node_exporter on the same machine', () => {
  let nodeExporter: ServerProcess;
  let url: string;

  before(async () => {
    const binaries = requireBinaries(['prometheus-node-exporter']);
    nodeExporter = await retryOnPortClash(async () => {
      const port = await freePort();
      url = `http://127.0.0.1:${port}/metrics`;
      return startServerProcess({
        name: 'node_exporter',
        command: binaries['prometheus-node-exporter'],
        // Its default exclusions are what we compare against; only the collectors we mirror run, to keep its scrape short.
        args: [
          `--web.listen-address=127.0.0.1:${port}`,
          '--collector.disable-defaults',
          ...['cpu', 'loadavg', 'meminfo', 'filesystem', 'diskstats', 'netdev', 'stat', 'time'].map((c) => `--collector.${c}`),
        ],
        isReady: async () => (await fetch(url)).ok,
      });
    });
  });
  after(() => nodeExporter?.stop());

  /**
   * How far the agent's value may sit outside the range node_exporter showed just before and just after
   * it: 0 for static values and for counters (which must lie between the two samples), a small margin
   * for values that move on their own.
   */
  function tolerance(name: string, nodeExporterValue: number, memTotal: number, labels: string, reference: Exposition): number {
    switch (name) {
      case 'node_memory_MemTotal_bytes':
      case 'node_memory_SwapTotal_bytes':
      case 'node_filesystem_size_bytes':
      case 'node_filesystem_files':
      case 'node_filesystem_readonly':
      case 'node_filesystem_device_error':
      case 'node_boot_time_seconds':
      case 'node_time_seconds':
        return 0;
      case 'node_memory_MemFree_bytes':
      case 'node_memory_MemAvailable_bytes':
      case 'node_memory_Buffers_bytes':
      case 'node_memory_Cached_bytes':
      case 'node_memory_SwapFree_bytes':
        return 0.02 * memTotal;
      case 'node_load1':
      case 'node_load5':
      case 'node_load15':
        return 0.05 * Math.max(1, nodeExporterValue);
      case 'node_filesystem_free_bytes':
      case 'node_filesystem_avail_bytes':
        return 0.01 * sample(reference, 'node_filesystem_size_bytes', labels);
      case 'node_filesystem_files_free':
        return 0.01 * sample(reference, 'node_filesystem_files', labels);
      case 'node_cpu_seconds_total':
        // Both sides clamp idle/iowait that stepped back; one tick either way is the kernel, not us.
        return 0.02;
      default:
        if (name.startsWith('node_disk_') || name.startsWith('node_network_')) return 0;
        throw new Error(`no tolerance chosen for ${name}: every exported host metric must be compared`);
    }
  }

  it('exports the same series as node_exporter, each value within tolerance of it', async () => {
    const registry = new Registry();
    const host = startHostMetrics(registry, { intervalMs: 60_000, log });
    try {
      const scrape = async () => parseExposition(await (await fetch(url)).text());
      const before = await scrape();
      await host.refresh();
      const ours = parseExposition(await registry.metrics());
      const afterwards = await scrape();

      const memTotal = sample(ours, 'node_memory_MemTotal_bytes');
      const families = hostFamilies(ours);
      assert.equal(families.size, 31, `the whole subset, got ${[...families.keys()]}`);
      const mismatches: string[] = [];
      for (const [name, series] of families) {
        assert.equal(ours.types.get(name), afterwards.types.get(name), `TYPE of ${name}`);
        const theirs = afterwards.samples.get(name) ?? new Map<string, number>();
        assert.deepEqual([...series.keys()].sort(), [...theirs.keys()].sort(), `label sets of ${name}`);
        for (const [labels, value] of series) {
          const low = Math.min(before.samples.get(name)?.get(labels) ?? Infinity, theirs.get(labels)!);
          const high = Math.max(before.samples.get(name)?.get(labels) ?? -Infinity, theirs.get(labels)!);
          // node_exporter scales milliseconds by multiplying by 0.001 where we divide by 1000: the last bits may differ.
          const margin = tolerance(name, high, memTotal, labels, afterwards) + 1e-9 * Math.max(1, Math.abs(high));
          if (value < low - margin || value > high + margin) {
            mismatches.push(`${name}{${labels}} = ${value}, node_exporter ${low}..${high} (±${margin})`);
          }
        }
      }
      assert.deepEqual(mismatches, []);
    } finally {
      host.stop();
    }
  });
});
