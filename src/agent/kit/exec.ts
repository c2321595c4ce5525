import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, closeSync, constants, openSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export class ExecError extends Error {
  readonly code = 'EXEC_FAILED';
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  constructor(message: string, details: { exitCode: number | null; signal: NodeJS.Signals | null; stderr: string }, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ExecError';
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stderr = details.stderr;
  }
}

export interface ExecOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  /** A file the command reads as its stdin (a backup fed through an `exec:` prefix); instead of `input`. */
  inputFile?: string;
  /** Bytes of stdout/stderr kept (the tail); output beyond that is dropped so a chatty command cannot exhaust memory. */
  maxOutputBytes?: number;
  /** Grace between SIGTERM and SIGKILL when the command is cancelled or times out. */
  killGraceMs?: number;
  /** The command may start processes of its own (a user's hook): see ChildOptions. */
  startsChildren?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  durationMs: number;
}

class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  toString(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * util-linux setpriv (Debian and Ubuntu ship it essential, in /usr/bin): `--pdeathsig KILL` has the kernel
 * SIGKILL the tool when the thread that forked it ends. Node forks in uv_spawn on the thread that calls
 * child_process.spawn, the main thread, so that is when this process ends, even by SIGKILL where no
 * handler of ours runs (a tool spawned from a worker thread would die with the worker: none is). The
 * kernel sends it to the tool only, not to a shell hook's grandchildren.
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(isExecutable);

/** Whether execvp would find `command`, searching PATH as it does for a bare name. */
export function findsCommand(command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (command.includes('/')) return isExecutable(command);
  return (env.PATH ?? '/usr/bin:/bin').split(delimiter).some((dir) => isExecutable(join(dir || '.', command)));
}

/** Children whose process group may still hold processes: from spawn until their stdio closed. */
const running = new Set<ChildProcess>();

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

let exitHookInstalled = false;
function killRunningOnExit(): void {
  for (const child of running) signalGroup(child, 'SIGKILL');
}

/**
 * Stands between this process and a command that starts processes of its own, since the parent-death
 * signal reaches only the process it is set on: this sh gets SIGHUP when caretaker dies and SIGKILLs its
 * whole process group, the hook's grandchildren too. The command runs as its background job (on the
 * saved stdin, not the /dev/null POSIX gives a background job), and its exit status is the sh's.
 */
const GROUP_GUARD = 'trap "kill -KILL 0" HUP; exec 3<&0; "$@" <&3 3<&- & exec 3<&-; wait $!';

export type ChildOptions = Pick<SpawnOptions, 'cwd' | 'env' | 'stdio'> & {
  /** The command may start processes of its own, which must die with caretaker too (GROUP_GUARD). */
  startsChildren?: boolean;
};

/**
 * Starts a tool (every process caretaker runs goes through here) so it dies with this process. It leads its
 * own process group, so a signal reaches a shell hook's grandchildren too; on exit of this process
 * (process.exit, the end of a CLI command) each running group gets SIGKILL; and when this process is
 * killed outright the kernel kills the tool (setpriv above). A command execvp would not find is spawned
 * as is, so it fails the way Node reports it (ENOENT on the command's name).
 */
export function spawnChild(command: string, args: readonly string[], options: ChildOptions = {}): ChildProcess {
  const { startsChildren, ...rest } = options;
  const env = rest.env ?? process.env;
  const spawnOptions: SpawnOptions = { ...rest, env, detached: true };
  let child: ChildProcess;
  if (!SETPRIV || !findsCommand(command, env)) child = spawn(command, [...args], spawnOptions);
  else if (startsChildren) child = spawn(SETPRIV, ['--pdeathsig', 'HUP', '--', '/bin/sh', '-c', GROUP_GUARD, 'caretaker', command, ...args], spawnOptions);
  else child = spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args], spawnOptions);
  if (child.pid === undefined) return child;
  if (!exitHookInstalled) process.on('exit', killRunningOnExit);
  exitHookInstalled = true;
  running.add(child);
  child.once('close', () => running.delete(child));
  return child;
}

/** SIGTERM to the child's whole process group, SIGKILL after `graceMs` unless it closed by then. */
export function stopChild(child: ChildProcess, graceMs: number): void {
  if (!running.has(child)) return;
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
  timer.unref();
  child.once('close', () => clearTimeout(timer));
}

/**
 * Stops every running child (SIGTERM, SIGKILL after `graceMs`) and resolves once all closed, or after the
 * grace and a second more if one never closes (a grandchild that left the group holding its output).
 * For a CLI command interrupted by a signal, which would otherwise leave its tools running.
 */
export async function stopAllChildren(graceMs: number): Promise<void> {
  const closed = [...running].map((child) => {
    // once() rejects on an 'error' event; closed is all that matters here.
    const done = once(child, 'close').catch(() => undefined);
    stopChild(child, graceMs);
    return done;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs + 1000)));
  await Promise.race([Promise.all(closed), deadline]);
  clearTimeout(timer);
}

/** Runs a command without a shell; rejects with ExecError on non-zero exit, timeout or abort. */
export function execFile(command: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const limit = options.maxOutputBytes ?? 64 * 1024;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new ExecError(`${command}: cancelled before start`, { exitCode: null, signal: null, stderr: '' }));
      return;
    }
    let stdin: number | 'pipe' = 'pipe';
    try {
      if (options.inputFile !== undefined) stdin = openSync(options.inputFile, 'r');
    } catch (err) {
      reject(new ExecError(`${command}: cannot read ${options.inputFile}: ${(err as Error).message}`, { exitCode: null, signal: null, stderr: '' }, { cause: err }));
      return;
    }
    let child: ChildProcess;
    try {
      child = spawnChild(command, args, { cwd: options.cwd, env: options.env, stdio: [stdin, 'pipe', 'pipe'], startsChildren: options.startsChildren });
    } finally {
      // The child has its own copy of the descriptor once spawned.
      if (typeof stdin === 'number') closeSync(stdin);
    }
    const stdout = new TailBuffer(limit);
    const stderr = new TailBuffer(limit);
    child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input ?? '');
    }

    let reason: 'timeout' | 'aborted' | undefined;
    // The whole group, so a timeout also reaches the grandchildren of a `sh -c` hook.
    const terminate = (why: 'timeout' | 'aborted') => {
      if (reason) return;
      reason = why;
      stopChild(child, options.killGraceMs ?? 3000);
    };
    const timer = options.timeoutMs ? setTimeout(() => terminate('timeout'), options.timeoutMs) : undefined;
    const onAbort = () => terminate('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = () => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (err) => {
      finish();
      reject(new ExecError(`${command}: ${err.message}`, { exitCode: null, signal: null, stderr: '' }, { cause: err }));
    });
    child.on('close', (exitCode, signal) => {
      finish();
      const details = { exitCode, signal, stderr: stderr.toString() };
      const lastLine = details.stderr.trim().split('\n').pop() ?? '';
      if (reason === 'timeout') reject(new ExecError(`${command}: timed out after ${options.timeoutMs} ms`, details));
      else if (reason === 'aborted') reject(new ExecError(`${command}: cancelled`, details));
      else if (exitCode !== 0) {
        const how = signal ? `killed by ${signal}` : `exited with ${exitCode}`;
        reject(new ExecError(`${command}: ${how}${lastLine ? `: ${lastLine}` : ''}`, details));
      } else resolve({ stdout: stdout.toString(), stderr: details.stderr, durationMs: performance.now() - started });
    });
  });
}
