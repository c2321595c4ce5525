import { readFile, readdir, readlink, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { runShellCommand } from '../../agent/kit/unit-control.js';
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
    await runShellCommand(reopen.command, { signal, timeoutMs: reopen.timeout, killGraceMs: 1000 });
    return;
  }
  const pid = await readPidFile(reopen.pidFile!);
  try {
    process.kill(pid, `SIG${reopen.signal!}`);
  } catch (err) {
    throw new Error(`cannot signal pid ${pid} from ${reopen.pidFile}`, { cause: err });
  }
}

/** Which of `paths` a writer may still be appending to. */
export type HeldCheck = (paths: ReadonlySet<string>) => Promise<Set<string>>;

/**
 * Paths among `paths` that some process still has open, from /proc/<pid>/fd (what fuser reads).
 * The kernel shows a renamed file under its new name, so after a rename the rotated path is what
 * a writer that has not reopened yet still points at. Only exact when every process is visible:
 * see `chooseHeldCheck`.
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

/**
 * A writer that got its reopen signal lets go within milliseconds; one that has not keeps the
 * file's mtime moving. A second of silence is the sign used when /proc cannot show who holds a file.
 */
export const QUIET_MS = 1000;

/** Paths among `paths` written to within the last QUIET_MS (a missing path is not held). */
export async function recentlyWritten(paths: ReadonlySet<string>): Promise<Set<string>> {
  const held = new Set<string>();
  const now = Date.now();
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && now - info.mtimeMs < QUIET_MS) held.add(path);
  }
  return held;
}

/**
 * /proc/<pid>/fd of another user's process needs CAP_SYS_PTRACE, and the unit's ProtectProc=invisible
 * hides those processes altogether, so the daemon as installed (an unprivileged user without
 * ptrace) cannot see writers and falls back to waiting for quiet. PID 1 stands for "another user":
 * whoever can read its descriptors can read everyone's.
 */
export async function chooseHeldCheck(probe = '/proc/1/fd'): Promise<{ check: HeldCheck; method: 'proc-fd' | 'quiet' }> {
  const visible = process.pid === 1 || (await readdir(probe).then(() => true, () => false));
  return visible ? { check: heldOpen, method: 'proc-fd' } : { check: recentlyWritten, method: 'quiet' };
}

/** Waits until `held` reports none of `paths`; false when the timeout came first. */
export async function waitUntilReleased(paths: readonly string[], held: HeldCheck, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let remaining = new Set(paths);
  for (;;) {
    remaining = await held(remaining);
    if (remaining.size === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(50, Math.max(1, deadline - Date.now())), undefined, { signal });
  }
}
