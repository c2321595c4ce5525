import type { ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import type { Readable } from 'node:stream';
import { spawnChild, stopChild } from '../../agent/kit/exec.js';
import { pipeInto, type ByteSink } from './sink.js';

export interface StreamingProcess {
  stdout: Readable;
  /** Resolves on exit 0; rejects with the last stderr line otherwise (a pipe never hides the exit status). */
  exited: Promise<void>;
  kill(): void;
}

const STDERR_LIMIT = 16 * 1024;
const KILL_GRACE_MS = 3000;
const BACKGROUND_NICENESS = 10;

/**
 * Spawns a dump tool whose stdout is the backup. Abort sends SIGTERM to its process group, then SIGKILL after
 * a grace period; it dies with the agent too (kit spawnChild).
 * stderr keeps only its tail.
 */
export function spawnStreaming(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; signal: AbortSignal }): StreamingProcess {
  const child = spawnChild(command, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  return supervise(child, command, options.signal);
}

/**
 * Spawns a dump tool whose stdout is an open file descriptor: the tool writes the backup straight to disk and
 * not one byte passes through the agent's event loop. The exit status is all there is to watch.
 */
export function spawnToFile(command: string, args: string[], fd: number, options: { env?: NodeJS.ProcessEnv; signal: AbortSignal }): Omit<StreamingProcess, 'stdout'> {
  const child = spawnChild(command, args, { env: options.env, stdio: ['ignore', fd, 'pipe'] });
  const { exited, kill } = supervise(child, command, options.signal);
  return { exited, kill };
}

function supervise(child: ChildProcess, command: string, signal: AbortSignal): StreamingProcess {
  const options = { signal };
  // A backup is background work: under CPU contention the agent (admin API, /metrics) and the server come first.
  if (child.pid !== undefined) {
    try {
      setPriority(child.pid, BACKGROUND_NICENESS);
    } catch {
      // Not allowed (e.g. a restricted container); the dump runs at normal priority.
    }
  }
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_LIMIT);
  });
  const kill = () => stopChild(child, KILL_GRACE_MS);
  options.signal.addEventListener('abort', kill, { once: true });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`${command}: ${err.message}`, { cause: err })));
    child.once('close', (code, signal) => {
      options.signal.removeEventListener('abort', kill);
      if (code === 0) return resolve();
      const last = stderr.trim().split('\n').filter(Boolean).slice(-2).join(' / ');
      const how = signal ? `killed by ${signal}` : `exited with ${code}`;
      reject(new Error(`${command.split('/').pop()} ${how}${last ? `: ${last}` : ''}`));
    });
  });
  // Callers always await `exited`; this keeps an early rejection from counting as unhandled meanwhile.
  exited.catch(() => undefined);
  return { stdout: child.stdout!, exited, kill };
}

/**
 * Streams a dump tool's stdout into the sink. When our side fails (disk full, cancelled) the tool is
 * stopped and our error is the one reported, not the tool's death by our hand. The caller still awaits
 * `tool.exited` for the tool's own verdict.
 */
export async function streamToolInto(tool: StreamingProcess, sink: ByteSink, signal: AbortSignal): Promise<void> {
  try {
    await pipeInto(tool.stdout, sink, signal);
  } catch (err) {
    tool.kill();
    await tool.exited.catch(() => undefined);
    throw err;
  }
}
