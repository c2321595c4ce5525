import { readFile, readdir, readlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from '../../agent/kit/exec.js';
import type { LogSetConfig } from './config.js';

type ReopenConfig = NonNullable<LogSetConfig['reopen']>;

/** Reads the writer's pid; a missing, empty or garbage pid file is an error naming the file. */
export async function readPidFile(pidFile: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch (err) {
    throw new Error(`cannot read pid file ${pidFile}`, { cause: err });
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`pid file ${pidFile} does not hold a pid: '${text.trim().slice(0, 40)}'`);
  return pid;
}

/** Tells the writer to reopen its files: one signal or one command for the whole set. */
export async function askWriterToReopen(reopen: ReopenConfig, signal: AbortSignal): Promise<void> {
  if (reopen.command !== undefined) {
    await execFile('/bin/sh', ['-c', reopen.command], { signal, timeoutMs: reopen.timeout, killGraceMs: 1000 });
    return;
  }
  const pid = await readPidFile(reopen.pidFile!);
  try {
    process.kill(pid, `SIG${reopen.signal!}`);
  } catch (err) {
    throw new Error(`cannot signal pid ${pid} from ${reopen.pidFile}`, { cause: err });
  }
}

/**
 * Paths among `paths` that some process still has open, from /proc/<pid>/fd (what fuser reads).
 * The kernel shows a renamed file under its new name, so after a rename the rotated path is what
 * a writer that has not reopened yet still points at. Processes we may not inspect are skipped
 * (as root that is none).
 */
export async function heldOpen(paths: ReadonlySet<string>): Promise<Set<string>> {
  const held = new Set<string>();
  if (paths.size === 0) return held;
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((entry) => /^\d+$/.test(entry));
  for (const pid of pids) {
    if (pid === String(process.pid)) continue;
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => undefined);
      if (target !== undefined && paths.has(target)) held.add(target);
    }
    if (held.size === paths.size) break;
  }
  return held;
}

/** Waits until no process holds any of `paths` open; false when the timeout came first. */
export async function waitUntilReleased(paths: readonly string[], timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let remaining = new Set(paths);
  for (;;) {
    remaining = await heldOpen(remaining);
    if (remaining.size === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(50, Math.max(1, deadline - Date.now())), undefined, { signal });
  }
}
