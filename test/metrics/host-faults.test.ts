import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, beforeEach, describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { startHostMetrics, type HostMetrics } from '../../src/metrics/host/index.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';

/** Log lines the host metrics wrote, parsed. */
function capturingLogger(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

const STAT = (idle: number) => `cpu  1 0 1 ${idle} 0 0 0 0 0 0\ncpu0 100 0 50 ${idle} 7 0 3 0 0 0\nbtime 1700000000\n`;
const NET_DEV = (devices: string[]) =>
  'Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n' +
  devices.map((device) => `  ${device}: 1000 10 0 0 0 0 0 0 2000 20 1 0 0 0 0 0`).join('\n') +
  '\n';

describe('host metrics when the kernel does not answer as expected', () => {
  let proc: TempDir;
  let registry: Registry;
  let host: HostMetrics | undefined;
  const dirs: TempDir[] = [];

  beforeEach(async () => {
    host?.stop();
    proc = await makeTempDir('fake-proc');
    dirs.push(proc);
    await mkdir(path.join(proc.path, 'self'));
    await mkdir(path.join(proc.path, 'net'));
    registry = new Registry();
  });
  after(async () => {
    host?.stop();
    for (const dir of dirs) await dir.cleanup();
  });

  const write = (file: string, text: string) => writeFile(path.join(proc.path, file), text);
  const samples = async (name: string) => (await registry.getSingleMetric(name)!.get()).values;
  const successOf = async (collector: string) => (await samples('node_scrape_collector_success')).find((v) => v.labels.collector === collector)?.value;

  it('a missing source fails only its collector, leaves its families empty, logs once, and recovers', async () => {
    await write('loadavg', '0.50 0.40 0.30 1/100 42\n');
    const { log, lines } = capturingLogger();
    host = startHostMetrics(registry, { intervalMs: 60_000, log, procPath: proc.path });
    await host.refresh();
    await host.refresh();

    assert.equal(await successOf('loadavg'), 1);
    assert.deepEqual((await samples('node_load5')).map((v) => v.value), [0.4]);
    for (const collector of ['cpu', 'meminfo', 'diskstats', 'netdev', 'stat', 'filesystem']) assert.equal(await successOf(collector), 0, collector);
    for (const name of ['node_cpu_seconds_total', 'node_memory_MemTotal_bytes', 'node_boot_time_seconds', 'node_network_receive_bytes_total']) {
      assert.deepEqual(await samples(name), [], `${name} shows nothing rather than 0`);
    }
    const failures = lines.filter((line) => line.msg === 'host collector failed');
    assert.equal(failures.length, 6, 'one error per collector per failure episode, not per refresh');

    await write('meminfo', 'MemTotal:       1000 kB\nMemFree:         500 kB\n');
    await host.refresh();
    assert.equal(await successOf('meminfo'), 1);
    assert.deepEqual((await samples('node_memory_MemTotal_bytes')).map((v) => v.value), [1024000]);
    assert.deepEqual(await samples('node_memory_MemAvailable_bytes'), [], 'a field the kernel lacks is absent, not 0');
    assert.equal(lines.filter((line) => line.msg === 'host collector recovered' && line.collector === 'meminfo').length, 1);
  });

  it('unparsable content withdraws the values instead of serving stale ones', async () => {
    await write('loadavg', '0.50 0.40 0.30 1/100 42\n');
    host = startHostMetrics(registry, { intervalMs: 60_000, log: pino({ level: 'silent' }), procPath: proc.path });
    await host.refresh();
    assert.equal((await samples('node_load1')).length, 1);
    await write('loadavg', 'garbage\n');
    await host.refresh();
    assert.equal(await successOf('loadavg'), 0);
    assert.deepEqual(await samples('node_load1'), []);
  });

  it('a CPU counter that the kernel steps back is held at its highest value', async () => {
    await write('stat', STAT(5000));
    host = startHostMetrics(registry, { intervalMs: 60_000, log: pino({ level: 'silent' }), procPath: proc.path });
    await host.refresh();
    await write('stat', STAT(4990));
    await host.refresh();
    const idle = (await samples('node_cpu_seconds_total')).find((v) => v.labels.mode === 'idle');
    assert.equal(idle?.value, 50);
    await write('stat', STAT(5100));
    await host.refresh();
    assert.equal((await samples('node_cpu_seconds_total')).find((v) => v.labels.mode === 'idle')?.value, 51);
  });

  it('a network interface that goes away takes its series with it', async () => {
    await write('net/dev', NET_DEV(['lo', 'eth0', 'veth1']));
    host = startHostMetrics(registry, { intervalMs: 60_000, log: pino({ level: 'silent' }), procPath: proc.path });
    await host.refresh();
    assert.deepEqual((await samples('node_network_transmit_errs_total')).map((v) => v.labels.device), ['eth0', 'veth1']);
    await write('net/dev', NET_DEV(['lo', 'eth0']));
    await host.refresh();
    assert.deepEqual((await samples('node_network_transmit_errs_total')).map((v) => v.labels.device), ['eth0']);
  });

  it('a mount whose statistics cannot be read shows device_error 1 and no sizes, warned once', async () => {
    await write(
      'self/mountinfo',
      '26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n' +
        '40 26 0:50 / /caretaker-test-gone rw,relatime - nfs4 server:/export rw\n' +
        '41 26 0:51 / /sys/kernel rw - sysfs sysfs rw\n',
    );
    const { log, lines } = capturingLogger();
    host = startHostMetrics(registry, { intervalMs: 60_000, log, procPath: proc.path });
    await host.refresh();
    await host.refresh();
    assert.equal(await successOf('filesystem'), 1);
    const errors = Object.fromEntries((await samples('node_filesystem_device_error')).map((v) => [v.labels.mountpoint, v.value]));
    assert.deepEqual(errors, { '/': 0, '/caretaker-test-gone': 1 });
    assert.deepEqual((await samples('node_filesystem_size_bytes')).map((v) => v.labels.mountpoint), ['/']);
    assert.equal(lines.filter((line) => line.msg === 'filesystem statistics unavailable').length, 1);
  });
});
