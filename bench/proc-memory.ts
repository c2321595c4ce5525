// A process's memory as /proc/PID/smaps_rollup counts it. RSS alone overstates a Node process against a Go
// exporter: more than half of a node's RSS is clean pages of its own binary (shared with every other node,
// dropped first under pressure). PSS splits shared pages among their users; anon is what the process itself
// allocated (heap, stacks), the memory it really costs the machine.
import { readFileSync } from 'node:fs';

export interface Memory {
  rssKiB: number;
  pssKiB: number;
  /** Anonymous pages (the rollup's `Anonymous:`): private to the process unless it forked. */
  anonKiB: number;
}

export const NO_MEMORY: Memory = { rssKiB: 0, pssKiB: 0, anonKiB: 0 };

/** The rollup of `pid`, or zeros when it has exited. */
export function memoryOf(pid: number): Memory {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return NO_MEMORY;
  }
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rssKiB: kib('Rss'), pssKiB: kib('Pss'), anonKiB: kib('Anonymous') };
}

export function addMemory(a: Memory, b: Memory): Memory {
  return { rssKiB: a.rssKiB + b.rssKiB, pssKiB: a.pssKiB + b.pssKiB, anonKiB: a.anonKiB + b.anonKiB };
}

export const mib = (kib: number) => (kib / 1024).toFixed(1);

export const describeMemory = (m: Memory) => `RSS ${mib(m.rssKiB)} / PSS ${mib(m.pssKiB)} / anon ${mib(m.anonKiB)} MiB`;
