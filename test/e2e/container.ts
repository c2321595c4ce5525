import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { onExit } from '../harness/cleanup.js';

const HOST_SCRIPT = fileURLToPath(new URL('./systemd-host.sh', import.meta.url));

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the boot helper; resolves with its exit code and output, rejects only when it outlives timeoutMs. */
function runHostScript(args: string[], timeoutMs: number, input?: string, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [HOST_SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: env && { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`systemd-host.sh ${args.join(' ')} still running after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    // A script that exits before reading its (empty) stdin must not fail the call with EPIPE.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** Builds the cached bookworm rootfs when it is missing (minutes, once per machine); a no-op otherwise. */
export async function ensureRootfs(): Promise<void> {
  const result = await runHostScript(['rootfs'], 30 * 60_000);
  if (result.code !== 0) throw new Error(`building the rootfs failed:\n${result.stderr}`);
}

export interface BootOptions {
  /**
   * true (the default): the host's node binary over /usr/bin/node; false: the container keeps its
   * own, Debian 12's nodejs 18.x (or none, once a test purges it).
   */
  hostNode?: boolean;
}

/** A booted systemd in a throw-away nspawn container; commands run in all its namespaces. */
export class Container {
  private stopped = false;
  private readonly unregister: () => void;

  private constructor(readonly name: string) {
    // A crashed test run must not leave a container behind.
    this.unregister = onExit(() => {
      if (!this.stopped) execFileSync('bash', [HOST_SCRIPT, 'stop', name], { stdio: 'ignore', timeout: 60_000 });
    });
  }

  static async boot(name: string, nspawnArgs: string[] = [], { hostNode = true }: BootOptions = {}): Promise<Container> {
    const container = new Container(name);
    const result = await runHostScript(['boot', name, ...nspawnArgs], 120_000, undefined, { E2E_HOST_NODE: hostNode ? '1' : '0' });
    if (result.code !== 0) {
      await container.stop();
      throw new Error(`booting ${name} failed:\n${result.stderr}`);
    }
    return container;
  }

  /** Runs a bash script inside; never throws on a non-zero exit (the caller asserts on code). */
  sh(script: string, timeoutMs = 60_000): Promise<RunResult> {
    return runHostScript(['exec', this.name, 'bash', '-c', script], timeoutMs);
  }

  /** Runs a bash script inside and returns its stdout, trimmed; throws with the output when it fails. */
  async ok(script: string, timeoutMs = 60_000): Promise<string> {
    const result = await this.sh(script, timeoutMs);
    if (result.code !== 0) {
      throw new Error(`in ${this.name}: \`${script}\` exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
    }
    return result.stdout.trim();
  }

  /** `systemctl show` properties of a unit, as a map. */
  async show(unit: string, properties: string[]): Promise<Record<string, string>> {
    const out = await this.ok(`systemctl show ${unit} ${properties.map((p) => `-p ${p}`).join(' ')}`);
    return Object.fromEntries(out.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  }

  /** Polls `check` every 200 ms until it returns a value; throws with `what` after timeoutMs. */
  async waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const value = await check();
        if (value !== undefined) return value;
      } catch (err) {
        last = err;
      }
      await sleep(200);
    }
    throw new Error(`in ${this.name}: timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unregister();
    await runHostScript(['stop', this.name], 90_000);
  }
}
