import { spawn, type SpawnOptions } from 'node:child_process';

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
  /** Bytes of stdout/stderr kept (the tail); output beyond that is dropped so a chatty command cannot exhaust memory. */
  maxOutputBytes?: number;
  /** Grace between SIGTERM and SIGKILL when the command is cancelled or times out. */
  killGraceMs?: number;
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

/** Runs a command without a shell; rejects with ExecError on non-zero exit, timeout or abort. */
export function execFile(command: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const limit = options.maxOutputBytes ?? 64 * 1024;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new ExecError(`${command}: cancelled before start`, { exitCode: null, signal: null, stderr: '' }));
      return;
    }
    // Its own process group, so a timeout also reaches the grandchildren of a `sh -c` hook.
    const spawnOptions: SpawnOptions = { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true };
    const child = spawn(command, [...args], spawnOptions);
    const stdout = new TailBuffer(limit);
    const stderr = new TailBuffer(limit);
    child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(options.input ?? '');

    let reason: 'timeout' | 'aborted' | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // the group is already gone
      }
    };
    const terminate = (why: 'timeout' | 'aborted') => {
      if (reason) return;
      reason = why;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), options.killGraceMs ?? 3000);
      killTimer.unref();
    };
    const timer = options.timeoutMs ? setTimeout(() => terminate('timeout'), options.timeoutMs) : undefined;
    const onAbort = () => terminate('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = () => {
      if (timer) clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
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
