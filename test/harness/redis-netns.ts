import { freePort } from './ports.js';
import { runCommand, startServerProcess, type ServerProcess } from './process.js';

export interface NetnsRedis {
  server: ServerProcess;
  /**
   * Its port inside the namespace: one free on the host when it started, so that from the host the same
   * address is refused rather than answered by another test's server.
   */
  port: number;
  /** `nsenter -t PID -n --`: what runs a command inside the server's namespace, as `docker exec -i` does in a container. */
  enter: string[];
  /** redis-cli inside the namespace; resolves with its stdout. */
  cli(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A redis-server in a network namespace of its own (what a container with no published port is): from the
 * host's namespace nothing reaches 127.0.0.1:<port> there; `enter` runs a command inside.
 */
export async function startRedisInNetns(password: string): Promise<NetnsRedis> {
  const port = await freePort();
  const script = `ip link set lo up && exec redis-server --port ${port} --bind 127.0.0.1 --save '' --appendonly no --requirepass ${password}`;
  const cliIn = (pid: number, args: string[], input?: string) =>
    runCommand('nsenter', ['-t', String(pid), '-n', '--', 'redis-cli', '-p', String(port), '--no-auth-warning', '-a', password, ...args], {
      timeoutMs: 30_000,
      ...(input === undefined ? {} : { input }),
    });
  const server = await startServerProcess({
    name: 'redis in a network namespace',
    command: 'unshare',
    args: ['--net', '--', 'sh', '-c', script],
    isReady: async (pid) => (await cliIn(pid, ['PING'])).trim() === 'PONG',
  });
  return {
    server,
    port,
    enter: ['nsenter', '-t', String(server.pid), '-n', '--'],
    cli: (args, input) => cliIn(server.pid, args, input),
    stop: () => server.stop(),
  };
}
