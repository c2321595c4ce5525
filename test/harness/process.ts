import { spawn, execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { onExit } from './cleanup.js';

const OUTPUT_LIMIT = 64 * 1024;

/** Keeps the last OUTPUT_LIMIT bytes written to it, so a chatty server cannot fill memory. */
class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > OUTPUT_LIMIT && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
    }
  }

  toString(): string {
    return Buffer.concat(this.chunks).subarray(-OUTPUT_LIMIT).toString('utf8');
  }
}

export interface ServerProcessOptions {
  /** Used in error messages only. */
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this user (tests run as root; PostgreSQL refuses root). */
  uid?: number;
  gid?: number;
  /** Polled with the server's pid until it returns true; the server counts as started then. */
  isReady: (pid: number) => Promise<boolean>;
  readyTimeoutMs?: number;
  /** Signal that asks for a clean shutdown (PostgreSQL wants SIGINT for "fast"; SIGTERM waits for clients). */
  stopSignal?: NodeJS.Signals;
  stopTimeoutMs?: number;
}

export interface ServerProcess {
  readonly pid: number;
  /** The last ~64 KiB of stdout and stderr, interleaved. */
  output(): string;
  running(): boolean;
  /** Sends the stop signal, then SIGKILL to the whole process group after the deadline; resolves once it exited. */
  stop(): Promise<void>;
}

/**
 * Starts a long-running server and resolves when isReady() says so. The child leads its own process group
 * (so workers and backends can be killed with it) and gets SIGKILL if this test process dies abruptly
 * (setpriv --pdeathsig); on a normal exit the cleanup hook kills the group.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const output = new OutputTail();
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', options.command, ...options.args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    uid: options.uid,
    gid: options.gid,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk));

  let exitDescription: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitDescription = signal ? `killed by ${signal}` : `exited with code ${code}`;
      resolve();
    });
    child.once('error', (error) => {
      exitDescription = `failed to start: ${error.message}`;
      resolve();
    });
  });
  const streamsClosed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const pid = child.pid;
  if (pid === undefined) {
    await exited;
    throw new Error(`${options.name} (${options.command}) ${exitDescription}`);
  }

  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  };
  const unregister = onExit(() => killGroup('SIGKILL'));
  exited.then(unregister, unregister);

  const server: ServerProcess = {
    pid,
    output: () => output.toString(),
    running: () => exitDescription === undefined,
    async stop() {
      if (exitDescription === undefined) {
        try {
          process.kill(pid, options.stopSignal ?? 'SIGTERM');
        } catch {
          // Exited between the check and the signal.
        }
        const escalation = setTimeout(() => killGroup('SIGKILL'), options.stopTimeoutMs ?? 10_000);
        await exited;
        clearTimeout(escalation);
      }
      // Children that outlived their leader (e.g. after SIGKILL) go too.
      killGroup('SIGKILL');
    },
  };

  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!server.running()) {
      // 'exit' can come before the last output; wait for it, but not for grandchildren holding the pipes.
      await Promise.race([streamsClosed, sleep(1_000, undefined, { ref: false })]);
      throw new Error(`${options.name} ${exitDescription} before it was ready. Output:\n${server.output()}`);
    }
    if (await options.isReady(pid).catch(() => false)) return server;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${options.name} was not ready within ${timeoutMs} ms. Output:\n${server.output()}`);
    }
    await sleep(100);
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  input?: string;
  timeoutMs?: number;
}

/** Runs a short command to completion and returns its stdout; the error names the command and carries its output. */
export function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        uid: options.uid,
        gid: options.gid,
        timeout: options.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error) {
          const how = error.killed ? `was killed (${error.signal})` : `exited with ${error.code ?? error.signal}`;
          reject(new Error(`${command} ${args.join(' ')} ${how}:\n${stderr}${stdout}`.trimEnd()));
        } else {
          resolve(stdout);
        }
      },
    );
    // A command that exits without reading its stdin closes the pipe; its exit status is what matters.
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.input);
  });
}

/** The lifecycle every harness server offers, built from its own `down` and `launch` steps. */
export interface Restartable {
  /** Stops the server and removes everything it wrote. */
  stop(): Promise<void>;
  /** Stops the server only, keeping its ports and files, to test how clients live through an outage. */
  down(): Promise<void>;
  /** Starts it again after down(), on the same ports. */
  up(): Promise<void>;
  restart(): Promise<void>;
}

export function restartable(steps: { down(): Promise<void>; launch(): Promise<void>; cleanup(): Promise<void> }): Restartable {
  return {
    async stop() {
      await steps.down();
      await steps.cleanup();
    },
    down: () => steps.down(),
    up: () => steps.launch(),
    async restart() {
      await steps.down();
      await steps.launch();
    },
  };
}
