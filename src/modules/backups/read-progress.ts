import { readdir, readFile, readlink } from 'node:fs/promises';
import type { ProgressLine } from '../../agent/kit/progress.js';

/** How often the tools' positions are read: the renderer draws at most every 200 ms. */
const POLL_MS = 250;

interface Reader {
  /** Where the tool is in the file: the furthest position of a descriptor open on it. */
  bytes: number;
  /** The name of the tool this process started (tar for the gzip tar runs), for the line's step. */
  tool: string;
}

const proc = (pid: number | 'self', rest: string) => `/proc/${pid}/${rest}`;

/** Child pids of every thread of `pid`; a process gone meanwhile has none. */
async function childrenOf(pid: number): Promise<number[]> {
  const tasks = await readdir(proc(pid, 'task')).catch(() => []);
  const lists = await Promise.all(tasks.map((tid) => readFile(proc(pid, `task/${tid}/children`), 'utf8').catch(() => '')));
  return lists.flatMap((list) => list.split(' ').filter(Boolean).map(Number));
}

/** The furthest position among `pid`'s descriptors open on `path`, or undefined when it has none. */
async function positionIn(pid: number, path: string): Promise<number | undefined> {
  let furthest: number | undefined;
  for (const fd of await readdir(proc(pid, 'fd')).catch(() => [])) {
    if ((await readlink(proc(pid, `fd/${fd}`)).catch(() => '')) !== path) continue;
    const pos = /^pos:\s*(\d+)/m.exec(await readFile(proc(pid, `fdinfo/${fd}`), 'utf8').catch(() => ''))?.[1];
    if (pos !== undefined) furthest = Math.max(furthest ?? 0, Number(pos));
  }
  return furthest;
}

/**
 * Which tool this process started is reading `path`, and how far it got, seen from outside as `pv --watchfd`
 * does: the position of each descriptor open on the file in /proc/<pid>/fdinfo, over the tools and their
 * children (tar's gzip holds the archive itself). No byte passes through this process, so sha256sum, tar and
 * pg_restore keep reading the file directly. Undefined when none has it open.
 */
export async function findReader(path: string): Promise<Reader | undefined> {
  let best: Reader | undefined;
  for (const child of await childrenOf(process.pid)) {
    const tool = (await readFile(proc(child, 'comm'), 'utf8').catch(() => '')).trim();
    const pending = [child];
    for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
      const bytes = await positionIn(pid, path);
      if (bytes !== undefined && bytes >= (best?.bytes ?? 0)) best = { bytes, tool };
      pending.push(...(await childrenOf(pid)));
    }
  }
  return best;
}

/**
 * Draws how far the tools read the `size` bytes of `path` until the returned stop() is awaited. Each tool
 * that reads it (the checksum, the kind's check, the restore) starts again from 0 under its own name.
 */
export function drawReads(path: string, size: number, progress: ProgressLine): () => Promise<void> {
  let polling: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    polling = polling.then(async () => {
      const reader = await findReader(path);
      if (reader) progress.update(reader.bytes, size, reader.tool);
    });
  }, POLL_MS);
  return async () => {
    clearInterval(timer);
    await polling;
  };
}
