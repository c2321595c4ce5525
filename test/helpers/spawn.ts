import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/agent/main.ts', import.meta.url));

export interface AgentProcess {
  child: ChildProcessWithoutNullStreams;
  /** stdout lines parsed as JSON where they are JSON. */
  lines: Array<Record<string, unknown>>;
  stderr(): string;
  waitForLine(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The real `caretaker` program (run from source through tsx), as a child process; `via` is a
 * command that execs it (e.g. systemd/notify-fd-exec), so the child's PID is still the program's.
 */
export function spawnCaretaker(args: string[], env: NodeJS.ProcessEnv = {}, via: string[] = []): AgentProcess {
  const command = [...via, process.execPath, '--import', 'tsx', MAIN, ...args];
  const child = spawn(command[0]!, command.slice(1), {
    env: { ...process.env, NOTIFY_SOCKET: '', WATCHDOG_USEC: '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: AgentProcess['lines'] = [];
  const waiters = new Set<() => void>();
  let buffered = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        lines.push({ text: part });
      }
    }
    for (const wake of waiters) wake();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitForLine(predicate, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(predicate);
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}; lines: ${JSON.stringify(lines.slice(-5))}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}
