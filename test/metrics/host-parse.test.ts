import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBootTime } from '../../src/metrics/host/boot.js';
import { unescapeOctal } from '../../src/metrics/host/collector.js';
import { parseCpuStat } from '../../src/metrics/host/cpu.js';
import { DISK_DEVICE_EXCLUDE, parseDiskstats } from '../../src/metrics/host/disk.js';
import { parseMountinfo, selectMounts } from '../../src/metrics/host/filesystem.js';
import { parseLoadavg } from '../../src/metrics/host/load.js';
import { parseMeminfo } from '../../src/metrics/host/memory.js';
import { NETWORK_DEVICE_EXCLUDE, parseNetDev } from '../../src/metrics/host/network.js';

const STAT = `cpu  10132 0 8082 72589 390 0 309 0 0 0
cpu0 4839 0 3029 32549 78 0 128 5 0 0
cpu1 5293 12 5053 40040 312 0 181 0 7 0
intr 1 2 3
ctxt 25190
btime 1795449473
processes 7621
`;

describe('host metric parsers', () => {
  it('reads per-CPU seconds by mode from /proc/stat, skipping the aggregate line', () => {
    const cpus = parseCpuStat(STAT);
    assert.deepEqual([...cpus.keys()], ['0', '1']);
    assert.deepEqual(cpus.get('1'), { user: 52.93, nice: 0.12, system: 50.53, idle: 400.4, iowait: 3.12, irq: 0, softirq: 1.81, steal: 0 });
    assert.equal(cpus.get('0')!.steal, 0.05);
  });

  it('treats columns an old kernel lacks as no time, and refuses a /proc/stat without CPUs', () => {
    assert.equal(parseCpuStat('cpu0 100 0 100 100 0 0 0\n').get('0')!.steal, 0);
    assert.throws(() => parseCpuStat('intr 1\n'), /no cpuN lines/);
  });

  it('reads btime', () => {
    assert.equal(parseBootTime(STAT), 1795449473);
    assert.throws(() => parseBootTime('cpu0 1 2 3\n'), /no btime/);
  });

  it('reads the three load averages', () => {
    assert.deepEqual(parseLoadavg('0.85 0.50 0.24 2/96 7520\n'), { load1: 0.85, load5: 0.5, load15: 0.24 });
    assert.throws(() => parseLoadavg('garbage\n'), /unexpected \/proc\/loadavg/);
  });

  it('turns meminfo kB into bytes and keeps unitless counts', () => {
    const meminfo = parseMeminfo('MemTotal:       24683620 kB\nMemFree:        23967596 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n');
    assert.equal(meminfo.get('MemTotal'), 24683620 * 1024);
    assert.equal(meminfo.get('HugePages_Total'), 0);
    assert.equal(meminfo.get('Hugepagesize'), 2048 * 1024);
    assert.equal(meminfo.get('MemAvailable'), undefined);
  });

  it('reads diskstats in bytes and seconds and applies node_exporter device exclusions', () => {
    const disks = parseDiskstats(
      ' 254       0 vda 41003 7692 1857322 12399 10225 18099 1562944 5322 0 7440 19094 4486 49 129920 715 1426 657\n' +
        ' 254       1 vda1 10 0 80 1 0 0 0 0 0 1 1 0 0 0 0\n   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n',
    );
    assert.deepEqual(disks.get('vda'), { readsCompleted: 41003, readBytes: 1857322 * 512, writesCompleted: 10225, writtenBytes: 1562944 * 512, ioTimeSeconds: 7.44 });
    const kept = ['vda', 'sda', 'nvme0n1', 'zram0', 'dm-0', 'md0', 'mmcblk0'];
    const dropped = ['vda1', 'sdb2', 'xvda1', 'nvme0n1p1', 'loop0', 'ram0', 'fd0'];
    for (const device of kept) assert.equal(DISK_DEVICE_EXCLUDE.test(device), false, device);
    for (const device of dropped) assert.equal(DISK_DEVICE_EXCLUDE.test(device), true, device);
  });

  it('reads /proc/net/dev, including a byte count glued to the colon', () => {
    const devices = parseNetDev(
      'Inter-|   Receive                                                |  Transmit\n' +
        ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
        '    lo:   31207     238    0    0    0     0          0         0    31207     238    0    0    0     0       0          0\n' +
        '  eth0:156500503    6216    3    0    0     0          0         0   531058    4510    2    0    0     0       0          0\n',
    );
    assert.deepEqual(devices.get('eth0'), { receiveBytes: 156500503, receivePackets: 6216, receiveErrs: 3, transmitBytes: 531058, transmitPackets: 4510, transmitErrs: 2 });
    assert.equal(NETWORK_DEVICE_EXCLUDE.test('lo'), true);
    assert.equal(NETWORK_DEVICE_EXCLUDE.test('lo0'), false);
  });

  it('reads mounts with escaped paths and read-only flags from either option set', () => {
    const mounts = parseMountinfo(
      '26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n' +
        '27 26 0:24 / /srv/my\\040data ro,nosuid shared:5 - ext4 /dev/vdb rw\n' +
        '28 26 0:25 / /backup rw,relatime - xfs /dev/vdc ro,attr2\n',
    );
    assert.deepEqual(mounts, [
      { device: '/dev/vda', fstype: 'ext4', mountpoint: '/', readonly: false },
      { device: '/dev/vdb', fstype: 'ext4', mountpoint: '/srv/my data', readonly: true },
      { device: '/dev/vdc', fstype: 'xfs', mountpoint: '/backup', readonly: true },
    ]);
    assert.equal(unescapeOctal('a\\011b\\134c'), 'a\tb\\c');
  });

  it('keeps real filesystems once and drops what node_exporter drops by default', () => {
    const mount = (mountpoint: string, fstype: string, device = '/dev/vda') => ({ device, fstype, mountpoint, readonly: false });
    const selected = selectMounts([
      mount('/', 'ext4'),
      mount('/', 'ext4'),
      mount('/home', 'xfs', '/dev/vdb'),
      mount('/boot/efi', 'vfat', '/dev/vda1'),
      mount('/tmp', 'tmpfs', 'tmpfs'),
      mount('/run', 'tmpfs', 'tmpfs'),
      mount('/run/user/1000', 'tmpfs', 'tmpfs'),
      mount('/dev/shm', 'tmpfs', 'tmpfs'),
      mount('/proc', 'proc', 'proc'),
      mount('/sys/fs/cgroup', 'cgroup2', 'cgroup2'),
      mount('/mnt/usb', 'vfat', '/dev/sdb1'),
      mount('/media/cdrom', 'iso9660', '/dev/sr0'),
      mount('/var/lib/docker/overlay2/abc/merged', 'overlay', 'overlay'),
      mount('/snap/core/1', 'squashfs', '/dev/loop0'),
      mount('/devices', 'ext4', '/dev/vdd'),
    ]);
    assert.deepEqual(
      selected.map((m) => m.mountpoint),
      ['/', '/home', '/boot/efi', '/tmp', '/devices'],
    );
  });
});
