import { statfs } from 'node:fs/promises';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { MAX_DEVICES, publishGauge, readProcFile, unescapeOctal, type HostCollector, type LabelValues } from './collector.js';

/**
 * node_exporter's default exclusions as Debian and Ubuntu ship it (`--collector.filesystem.mount-points-exclude`
 * and `fs-types-exclude` of prometheus-node-exporter 1.5): pseudo filesystems, runtime tmpfs under /run,
 * removable media and container layers would only add noise and unbounded label sets.
 */
export const MOUNT_POINTS_EXCLUDE = /^\/(dev|proc|run|sys|mnt|media|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;
export const FS_TYPES_EXCLUDE =
  /^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$/;

/** node_exporter's `--collector.filesystem.mount-timeout` default: a statfs slower than this marks the mount unresponsive. */
export const STATFS_TIMEOUT_MS = 5_000;

export interface Mount {
  device: string;
  fstype: string;
  mountpoint: string;
  readonly: boolean;
}

/**
 * /proc/self/mountinfo: "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard". The mount is read-only
 * when either its own options or its superblock's say `ro` (what /proc/mounts shows as `ro`).
 * The mounts of our own namespace, so that statfs() sees the same filesystem the line describes.
 */
export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const separator = line.indexOf(' - ');
    if (separator < 0) continue;
    const before = line.slice(0, separator).split(' ');
    const after = line.slice(separator + 3).split(' ');
    const [mountpoint, mountOptions] = [before[4], before[5]];
    const [fstype, source, superOptions] = after;
    if (!mountpoint || !mountOptions || !fstype || source === undefined) continue;
    const readonly = mountOptions.split(',').includes('ro') || (superOptions ?? '').split(',').includes('ro');
    mounts.push({ device: unescapeOctal(source), fstype, mountpoint: unescapeOctal(mountpoint), readonly });
  }
  return mounts;
}

/** The mounts node_exporter reports by default: exclusions applied, each (device, fstype, mountpoint) once. */
export function selectMounts(mounts: readonly Mount[]): Mount[] {
  const seen = new Set<string>();
  return mounts.filter((mount) => {
    if (MOUNT_POINTS_EXCLUDE.test(mount.mountpoint) || FS_TYPES_EXCLUDE.test(mount.fstype)) return false;
    const key = `${mount.device}\0${mount.fstype}\0${mount.mountpoint}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

type FsLabel = 'device' | 'fstype' | 'mountpoint';
type FsSample = [LabelValues<FsLabel>, number];

const SPACE_GAUGES = [
  ['node_filesystem_size_bytes', 'Filesystem size in bytes.'],
  ['node_filesystem_free_bytes', 'Filesystem free space in bytes.'],
  ['node_filesystem_avail_bytes', 'Filesystem space available to non-root users in bytes.'],
  ['node_filesystem_files', 'Filesystem total file nodes.'],
  ['node_filesystem_files_free', 'Filesystem total free file nodes.'],
  ['node_filesystem_readonly', 'Filesystem read-only status.'],
  ['node_filesystem_device_error', 'Whether an error occurred while getting statistics for the given device.'],
] as const;

export interface FilesystemCollectorOptions {
  log: Logger;
  procPath: string;
  statfsTimeoutMs?: number;
}

/**
 * node_exporter's `filesystem` collector subset: node_filesystem_*{device, fstype, mountpoint}.
 * A hung NFS mount must not tie up libuv's few threads: each mount has at most one statfs() in flight,
 * and while it hangs the mount shows node_filesystem_device_error 1 and no sizes (node_exporter's "stuck mount").
 */
export function createFilesystemCollector(registry: Registry, options: FilesystemCollectorOptions): HostCollector {
  const gauges = new Map(
    SPACE_GAUGES.map(([name, help]) => [name, new Gauge<FsLabel>({ name, help, labelNames: ['device', 'fstype', 'mountpoint'], registers: [registry] })]),
  );
  const timeoutMs = options.statfsTimeoutMs ?? STATFS_TIMEOUT_MS;
  const inFlight = new Set<string>();
  const unresponsive = new Set<string>();

  async function statfsBounded(mountpoint: string) {
    if (inFlight.has(mountpoint)) throw new Error('an earlier statfs has not returned');
    inFlight.add(mountpoint);
    const call = statfs(mountpoint).finally(() => inFlight.delete(mountpoint));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`statfs did not return within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([call, timeout]);
    } finally {
      clearTimeout(timer);
      // The losing promise of the race may still reject later; that is already accounted for.
      call.catch(() => {});
    }
  }

  return {
    name: 'filesystem',
    metricNames: [...gauges.keys()],
    async refresh() {
      const mounts = selectMounts(parseMountinfo(readProcFile(options.procPath, 'self/mountinfo'))).slice(0, MAX_DEVICES);
      const results = await Promise.allSettled(mounts.map((mount) => statfsBounded(mount.mountpoint)));
      const samples = new Map<string, FsSample[]>([...gauges.keys()].map((name) => [name, []]));
      const add = (name: string, labels: LabelValues<FsLabel>, value: number) => samples.get(name)!.push([labels, value]);
      mounts.forEach((mount, index) => {
        const labels = { device: mount.device, fstype: mount.fstype, mountpoint: mount.mountpoint };
        const result = results[index]!;
        noteResponsiveness(mount.mountpoint, result);
        add('node_filesystem_device_error', labels, result.status === 'rejected' ? 1 : 0);
        if (result.status === 'rejected') return;
        const stats = result.value;
        add('node_filesystem_size_bytes', labels, stats.blocks * stats.bsize);
        add('node_filesystem_free_bytes', labels, stats.bfree * stats.bsize);
        add('node_filesystem_avail_bytes', labels, stats.bavail * stats.bsize);
        add('node_filesystem_files', labels, stats.files);
        add('node_filesystem_files_free', labels, stats.ffree);
        add('node_filesystem_readonly', labels, mount.readonly ? 1 : 0);
      });
      for (const [name, gauge] of gauges) publishGauge(gauge, samples.get(name)!);
    },
    clear() {
      for (const gauge of gauges.values()) gauge.reset();
    },
  };

  /** One warning when a mount stops answering and one line when it is back, not one per refresh. */
  function noteResponsiveness(mountpoint: string, result: PromiseSettledResult<unknown>): void {
    if (result.status === 'rejected' && !unresponsive.has(mountpoint)) {
      unresponsive.add(mountpoint);
      options.log.warn({ mountpoint, err: result.reason }, 'filesystem statistics unavailable');
    } else if (result.status === 'fulfilled' && unresponsive.delete(mountpoint)) {
      options.log.info({ mountpoint }, 'filesystem statistics available again');
    }
  }
}
