import assert from 'node:assert/strict';
import { readFile, realpath, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  fsCondition,
  fsUsage,
  hostConditionsSchema,
  levelBelow,
  memoryCondition,
  mountPointOf,
  parseMeminfo,
  watchHost,
  type HostSources,
} from '../../../src/modules/alerts/host-conditions.js';
import { createTestContext, type TestModuleContext } from '../../helpers/module-context.js';

const GiB = 1024 ** 3;

test('below the threshold a warning, below half of it critical, at or above nothing', () => {
  assert.equal(levelBelow(10, 10), undefined);
  assert.equal(levelBelow(9.9, 10), 'warning');
  assert.equal(levelBelow(5, 10), 'warning');
  assert.equal(levelBelow(4.9, 10), 'critical');
  assert.equal(levelBelow(0, 0), undefined, 'a threshold of 0 never fires');
});

test('free space is what ordinary users may still write, out of used plus that (as df counts)', () => {
  // 100 blocks, 20 free of which 15 are not reserved for root: 15 / (80 + 15).
  const usage = fsUsage({ bsize: 4096, blocks: 100, bfree: 20, bavail: 15 });
  assert.deepEqual(usage, { availableBytes: 15 * 4096, sizeBytes: 95 * 4096 });
  assert.equal(fsCondition('/var', usage, 10), undefined, '15.8 % free is above 10 %');
  const report = fsCondition('/var', usage, 20);
  assert.equal(report?.key, 'host:fs:/var');
  assert.equal(report?.severity, 'warning');
  assert.equal(report?.summary, '/var is almost full');
  assert.equal(report?.item, 'host');
  assert.match(report!.detail!, /^60.0 KiB free of 380.0 KiB \(15\.8 %\), below alerts\.host\.diskFree 20 %$/);
  assert.equal(fsCondition('/', { availableBytes: 4 * GiB, sizeBytes: 100 * GiB }, 10)?.severity, 'critical');
  assert.equal(fsCondition('/proc', { availableBytes: 0, sizeBytes: 0 }, 10), undefined, 'an empty pseudo filesystem is never full');
});

test('memory: MemAvailable of MemTotal, and undefined without MemAvailable', () => {
  const meminfo = 'MemTotal:        8000000 kB\nMemFree:          100000 kB\nMemAvailable:     600000 kB\nBuffers: 1 kB\n';
  const usage = parseMeminfo(meminfo);
  assert.deepEqual(usage, { availableBytes: 600000 * 1024, totalBytes: 8000000 * 1024 });
  const report = memoryCondition(usage!, 10);
  assert.equal(report?.key, 'host:memory');
  assert.equal(report?.severity, 'warning');
  assert.match(report!.detail!, /\(7\.5 %\), below alerts\.host\.memoryAvailable 10 %/);
  assert.equal(memoryCondition(usage!, 16)?.severity, 'critical');
  assert.equal(memoryCondition(usage!, 5), undefined);
  assert.equal(parseMeminfo('MemTotal: 8000000 kB\nMemFree: 100 kB\n'), undefined);
});

test('the mount point of a path is the longest one it lies under (octal escapes decoded)', () => {
  const mountinfo = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '23 22 8:2 / /var rw,relatime shared:2 - ext4 /dev/sda2 rw',
    '24 23 8:3 / /var/lib/caretaker\\040data rw - ext4 /dev/sda3 rw',
    '25 22 0:5 / /variant rw - tmpfs tmpfs rw',
  ].join('\n');
  assert.equal(mountPointOf('/var/lib/caretaker/state', mountinfo), '/var');
  assert.equal(mountPointOf('/var', mountinfo), '/var');
  assert.equal(mountPointOf('/variable', mountinfo), '/', '/var is not a prefix of /variable as a path');
  assert.equal(mountPointOf('/var/lib/caretaker data/x', mountinfo), '/var/lib/caretaker data');
  assert.equal(mountPointOf('/home/x', mountinfo), '/');
});

test('the schema: defaults 10 %, 10 %, 1m; a relative path and a percentage over 100 are refused with their key', () => {
  assert.deepEqual(hostConditionsSchema.parse({}), { diskFree: 10, memoryAvailable: 10, every: 60_000 });
  const bad = hostConditionsSchema.safeParse({ paths: ['var/lib'], diskFree: 101 });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error!.issues.map((i) => i.path.join('.')).sort(), ['diskFree', 'paths.0']);
});

async function until(read: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!read()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const fakeMemory = (availableKb: number): HostSources['meminfo'] => async () => `MemTotal: 1000000 kB\nMemAvailable: ${availableKb} kB\n`;

async function withContext(work: (t: TestModuleContext) => Promise<void>): Promise<void> {
  const t = await createTestContext('alerts');
  try {
    await work(t);
  } finally {
    await t.dispose();
  }
}

test('watchHost on the real state dir filesystem: diskFree 100 fires host:fs:<its mount point>, diskFree 0 resolves it', async () => {
  await withContext(async (t) => {
    const sources: HostSources = { meminfo: fakeMemory(500000), mountinfo: () => readFile('/proc/self/mountinfo', 'utf8') };
    // A filesystem with nothing on it (a container's fresh tmpfs /tmp) is 100 % free, not below 100 %.
    await writeFile(join(t.ctx.stateDir, 'occupied'), 'x');
    const point = mountPointOf(await realpath(t.ctx.stateDir), await sources.mountinfo());
    const usage = fsUsage(await statfs(point));
    const watcher = watchHost(t.ctx, hostConditionsSchema.parse({ diskFree: 100, paths: [t.ctx.stateDir], every: '1s' }), sources);
    await until(() => t.conditions.firing().some((e) => e.key === `host:fs:${point}`), `host:fs:${point}`);
    watcher.stop();
    const fired = t.conditions.firing().find((e) => e.key === `host:fs:${point}`)!;
    assert.equal(fired.module, 'alerts');
    assert.equal(fired.item, 'host');
    assert.equal(fired.severity, usage.availableBytes / usage.sizeBytes < 0.5 ? 'critical' : 'warning');
    assert.match(fired.detail, /free of .* below alerts\.host\.diskFree 100 %/);
    assert.equal(t.conditions.firing().some((e) => e.key === 'host:memory'), false, '50 % available is above 10 %');

    const again = watchHost(t.ctx, hostConditionsSchema.parse({ diskFree: 0, paths: [t.ctx.stateDir], every: '1s' }), sources);
    await until(() => t.conditions.firing().length === 0, 'the resolve');
    again.stop();
  });
});

test('watchHost: low memory fires host:memory, critical below half; a mount point no longer watched is resolved at the first check', async () => {
  await withContext(async (t) => {
    t.ctx.conditions.fire({ key: 'host:fs:/srv/old', severity: 'warning', summary: '/srv/old is almost full', item: 'host' });
    let available = 80000;
    const sources: HostSources = { meminfo: async () => fakeMemory(available)(), mountinfo: async () => '22 1 8:1 / / rw - ext4 /dev/sda1 rw\n' };
    const watcher = watchHost(t.ctx, hostConditionsSchema.parse({ diskFree: 0, paths: ['/'], every: '1s' }), sources);
    try {
      await until(() => t.conditions.firing().some((e) => e.key === 'host:memory'), 'host:memory');
      assert.equal(t.conditions.firing().find((e) => e.key === 'host:memory')?.severity, 'warning');
      assert.equal(t.conditions.firing().some((e) => e.key === 'host:fs:/srv/old'), false, 'the old mount point is resolved');
      available = 40000;
      await until(() => t.conditions.firing().find((e) => e.key === 'host:memory')?.severity === 'critical', 'critical');
      available = 500000;
      await until(() => t.conditions.firing().length === 0, 'memory resolved');
    } finally {
      watcher.stop();
    }
  });
});

test('watchHost: a path that cannot be read is not reported as full, and does not resolve what it cannot see', async () => {
  await withContext(async (t) => {
    t.ctx.conditions.fire({ key: 'host:fs:/srv/old', severity: 'warning', summary: '/srv/old is almost full', item: 'host' });
    const watcher = watchHost(t.ctx, hostConditionsSchema.parse({ diskFree: 100, paths: ['/nonexistent/caretaker-host-test'], every: '1s' }), {
      meminfo: fakeMemory(40000),
      mountinfo: async () => '22 1 8:1 / / rw - ext4 /dev/sda1 rw\n',
    });
    try {
      await until(() => t.conditions.firing().some((e) => e.key === 'host:memory'), 'host:memory');
      assert.deepEqual(t.conditions.firing().map((e) => e.key).sort(), ['host:fs:/srv/old', 'host:memory']);
    } finally {
      watcher.stop();
    }
  });
});
