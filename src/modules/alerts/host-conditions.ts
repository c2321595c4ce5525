import { readFile, realpath, statfs } from 'node:fs/promises';
import { z } from 'zod';
import { formatBytes } from '../../agent/kit/cli.js';
import type { ConditionReport, ConditionSeverity } from '../../agent/kit/conditions.js';
import { describeError } from '../../agent/kit/errors.js';
import type { ModuleContext } from '../../agent/kit/module.js';
import { duration } from '../../agent/kit/schema.js';

const percent = (what: string) =>
  z.number().min(0).max(100).default(10).meta({ description: `${what}: a warning below this percentage, critical below half of it (default 10)` });

/** `alerts.host`: the host's own conditions, which no other module watches. */
export const hostConditionsSchema = z.strictObject({
  diskFree: percent('space free to ordinary users on each filesystem of `paths`'),
  memoryAvailable: percent('memory available (MemAvailable of MemTotal in /proc/meminfo)'),
  paths: z
    .array(z.string().startsWith('/', { error: 'expected an absolute path' }))
    .min(1)
    .optional()
    .meta({ description: "paths whose filesystems are watched, each reported by its mount point (default: the agent's state dir and /)" }),
  every: duration({ min: '1s', max: '1h' }).default(60_000).meta({ description: 'how often free space and memory are read (default 1m)' }),
});

export type HostConditionsConfig = z.output<typeof hostConditionsSchema>;

/** Every host condition names this item, so the alerts module resolves them all with `resolveItem(HOST_ITEM)` when `host` is removed. */
export const HOST_ITEM = 'host';

export const MEMORY_KEY = 'host:memory';

export function fsKey(mountPoint: string): string {
  return `host:fs:${mountPoint}`;
}

/** Below `threshold` percent a warning, below half of it critical; undefined while above. */
export function levelBelow(freePercent: number, threshold: number): ConditionSeverity | undefined {
  if (freePercent >= threshold) return undefined;
  return freePercent < threshold / 2 ? 'critical' : 'warning';
}

export interface FsUsage {
  /** Blocks free to ordinary users (statfs bavail): what a non-root agent or database can still write. */
  availableBytes: number;
  /** Used plus available, as df counts its Use%: blocks reserved for root are neither. */
  sizeBytes: number;
}

export function fsUsage(stats: { bsize: number; blocks: number; bfree: number; bavail: number }): FsUsage {
  const used = stats.blocks - stats.bfree;
  return { availableBytes: stats.bavail * stats.bsize, sizeBytes: (used + stats.bavail) * stats.bsize };
}

/** The condition for one filesystem, or undefined when it has enough room (a filesystem of size 0, like a pseudo fs, always has). */
export function fsCondition(mountPoint: string, usage: FsUsage, threshold: number): ConditionReport | undefined {
  if (usage.sizeBytes <= 0) return undefined;
  const free = (usage.availableBytes / usage.sizeBytes) * 100;
  const severity = levelBelow(free, threshold);
  if (!severity) return undefined;
  return {
    key: fsKey(mountPoint),
    severity,
    summary: `${mountPoint} is almost full`,
    detail: `${formatBytes(usage.availableBytes)} free of ${formatBytes(usage.sizeBytes)} (${free.toFixed(1)} %), below alerts.host.diskFree ${threshold} %`,
    item: HOST_ITEM,
  };
}

export interface MemoryUsage {
  availableBytes: number;
  totalBytes: number;
}

/** MemAvailable and MemTotal from /proc/meminfo (kB), or undefined when a kernel older than 3.14 has no MemAvailable. */
export function parseMeminfo(text: string): MemoryUsage | undefined {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const availableBytes = field('MemAvailable');
  const totalBytes = field('MemTotal');
  if (availableBytes === undefined || !totalBytes) return undefined;
  return { availableBytes, totalBytes };
}

export function memoryCondition(usage: MemoryUsage, threshold: number): ConditionReport | undefined {
  const available = (usage.availableBytes / usage.totalBytes) * 100;
  const severity = levelBelow(available, threshold);
  if (!severity) return undefined;
  return {
    key: MEMORY_KEY,
    severity,
    summary: 'memory is running out',
    detail: `${formatBytes(usage.availableBytes)} available of ${formatBytes(usage.totalBytes)} (${available.toFixed(1)} %), below alerts.host.memoryAvailable ${threshold} %`,
    item: HOST_ITEM,
  };
}

/** The mount point holding `path` (which must exist), from /proc/self/mountinfo: the longest mount point it lies under. */
export function mountPointOf(path: string, mountinfo: string): string {
  let best = '/';
  for (const line of mountinfo.split('\n')) {
    const point = line.split(' ')[4];
    if (!point) continue;
    // mountinfo escapes space, tab, newline and backslash as octal.
    const decoded = point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    const under = decoded === '/' || path === decoded || path.startsWith(`${decoded}/`);
    if (under && decoded.length > best.length) best = decoded;
  }
  return best;
}

/** Where the watcher reads the host; tests stand in for /proc/meminfo, the system's statfs is always real. */
export interface HostSources {
  meminfo(): Promise<string>;
  mountinfo(): Promise<string>;
}

const procSources: HostSources = {
  meminfo: () => readFile('/proc/meminfo', 'utf8'),
  mountinfo: () => readFile('/proc/self/mountinfo', 'utf8'),
};

/**
 * Reads free space and memory every `config.every` and reports `host:fs:<mount point>` and `host:memory`
 * through `ctx.conditions`. A filesystem that can no longer be read (a path gone, an unmounted disk)
 * is logged once per episode rather than reported, since its free space is unknown. The first complete
 * check also resolves the `host:fs:` keys of mount points no longer watched (a reload changed `paths`).
 */
export function watchHost(ctx: ModuleContext, config: HostConditionsConfig, sources: HostSources = procSources): { stop(): void } {
  const paths = config.paths ?? [ctx.stateDir, '/'];
  const unreadable = new Set<string>();
  let first = true;

  const warnOnce = (what: string, err: unknown) => {
    if (unreadable.has(what)) return;
    unreadable.add(what);
    ctx.log.warn({ path: what, err: describeError(err) }, 'cannot read host usage');
  };

  /** The mount points watched, or undefined when a path could not be read (so which are gone is unknown). */
  const checkFilesystems = async (): Promise<Set<string> | undefined> => {
    const mountinfo = await sources.mountinfo();
    unreadable.delete('/proc/self/mountinfo');
    const points = new Set<string>();
    let complete = true;
    for (const path of paths) {
      try {
        const point = mountPointOf(await realpath(path), mountinfo);
        if (points.has(point)) continue;
        points.add(point);
        const report = fsCondition(point, fsUsage(await statfs(point)), config.diskFree);
        unreadable.delete(path);
        if (report) ctx.conditions.fire(report);
        else ctx.conditions.resolve(fsKey(point));
      } catch (err) {
        complete = false;
        warnOnce(path, err);
      }
    }
    return complete ? points : undefined;
  };

  const checkMemory = async () => {
    try {
      const usage = parseMeminfo(await sources.meminfo());
      if (!usage) throw new Error('no MemAvailable or MemTotal in /proc/meminfo');
      unreadable.delete('/proc/meminfo');
      const report = memoryCondition(usage, config.memoryAvailable);
      if (report) ctx.conditions.fire(report);
      else ctx.conditions.resolve(MEMORY_KEY);
    } catch (err) {
      warnOnce('/proc/meminfo', err);
    }
  };

  const task = ctx.schedule({ name: 'alerts:host', everyMs: config.every, runAtStart: true }, async () => {
    const points = await checkFilesystems().catch((err: unknown) => warnOnce('/proc/self/mountinfo', err));
    await checkMemory();
    if (!first || !points) return;
    first = false;
    for (const event of ctx.conditionFeed.firing()) {
      if (event.item === HOST_ITEM && event.key.startsWith('host:fs:') && !points.has(event.key.slice('host:fs:'.length))) ctx.conditions.resolve(event.key);
    }
  });
  return { stop: () => task.cancel() };
}
