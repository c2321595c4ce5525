// CPU and memory of running processes, read from /proc, for a process and all its descendants.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

export interface Usage {
  /** utime + stime of the processes, of their reaped children (cutime + cstime) and of live descendants. */
  cpuMs: number;
  /** VmRSS summed over the processes and their live descendants. */
  rssKiB: number;
  /** VmHWM (peak RSS since start) summed the same way. */
  hwmKiB: number;
}

interface Stat {
  ppid: number;
  ticks: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): index 0 is field 3 (state) of proc(5).
    const fields = text.slice(text.lastIndexOf(') ') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return { ppid: Number(fields[1]), ticks };
  } catch {
    return undefined; // Exited between the directory listing and the read.
  }
}

function readMemory(pid: number): { rssKiB: number; hwmKiB: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
  } catch {
    return { rssKiB: 0, hwmKiB: 0 };
  }
}

function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  return children;
}

/**
 * Usage of the given processes with their descendants. A child that exits moves its times into its
 * parent's cutime/cstime when reaped, so the CPU total does not drop when a child (a PostgreSQL backend) goes.
 */
export function usageOf(pids: readonly number[]): Usage {
  const children = childrenByParent();
  const total: Usage = { cpuMs: 0, rssKiB: 0, hwmKiB: 0 };
  const visit = (pid: number) => {
    const stat = readStat(pid);
    if (!stat) return;
    const memory = readMemory(pid);
    total.cpuMs += stat.ticks * TICK_MS;
    total.rssKiB += memory.rssKiB;
    total.hwmKiB += memory.hwmKiB;
    for (const child of children.get(pid) ?? []) visit(child);
  };
  for (const pid of pids) visit(pid);
  return total;
}
