import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../../src/agent/kit/cli.js';
import { backups } from '../../../src/modules/backups/index.js';
import { execFile } from '../../../src/agent/kit/exec.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { baseConfig, startTestAgent, type TestAgent } from '../../helpers/agent.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
/** The production bundle, built in before(): what users run, and a CLI start of 0.5 s instead of tsx's 3 s. */
let bundle = '';
/** Random bytes: gzip cannot shrink them, so the backup is as big as the file and takes seconds to write. */
const FILE_BYTES = 200 * 1024 * 1024;

interface Ran {
  code: number | null;
  /** What the terminal (or the pipes) received, stdout and stderr together. */
  output: string;
}

/** A running `caretaker` command: what it printed so far, and its end. */
interface Running {
  output(): string;
  done: Promise<Ran>;
}

/** `caretaker ARGS` on a pseudo-terminal (util-linux script), as a user at a shell runs it. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv): Running {
  const quoted = [process.execPath, bundle, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return collect(spawn('script', ['--quiet', '--return', '--command', quoted, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** `caretaker ARGS` with stdout and stderr on pipes, as in a script or a cron job. */
function onPipes(args: string[], env: NodeJS.ProcessEnv): Running {
  return collect(spawn(process.execPath, [bundle, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

function collect(child: ReturnType<typeof spawn>): Running {
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  const done = new Promise<Ran>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
  return { output: () => output, done };
}

/** Waits (bounded) until `command` printed something matching `pattern`. */
async function printed(command: Running, pattern: RegExp): Promise<void> {
  for (let waited = 0; !pattern.test(command.output()); waited += 100) {
    if (waited > 30_000) throw new Error(`no ${pattern} within 30 s: ${command.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The distinct progress lines drawn: each starts with a carriage return and ends with ESC [ K. */
function renders(output: string, label: string): string[] {
  const lines = [...output.matchAll(/\r([^\r\n]*?)\u001b\[K/g)].map((m) => m[1]!).filter((line) => line.startsWith(label));
  return [...new Set(lines)];
}

describe('progress of backups run, watch, verify and restore (200 MB files job)', () => {
  let dir: TempDir;
  let agent: TestAgent;
  let env: NodeJS.ProcessEnv;
  /** Accepts connections and never answers: a postgres job against it hangs until its timeout. */
  let silent: net.Server;
  const held = new Set<net.Socket>();
  const source = () => join(dir.path, 'source');

  before(async () => {
    dir = await makeTempDir('backups-progress');
    await mkdir(source());
    await Promise.all([
      execFile('sh', ['-c', `head -c ${FILE_BYTES} /dev/urandom > "$0"`, join(source(), 'random.bin')]),
      execFile(process.execPath, ['scripts/build.mjs', join(dir.path, 'dist')], { cwd: ROOT, timeoutMs: 120_000 }),
    ]);
    bundle = join(dir.path, 'dist', 'caretaker.mjs');
    silent = net.createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const jobs = [
      `{ name: files, type: files, paths: ["${source()}"], schedule: "0 3 1 1 *", timezone: UTC }`,
      `{ name: stuck, type: postgres, url: "postgres://app@127.0.0.1:${port}/app", schedule: "0 3 1 1 *", timezone: UTC }`,
    ];
    agent = await startTestAgent((root) => baseConfig(root, `backups:\n  dir: ${join(dir.path, 'backups')}\n  jobs:\n${jobs.map((j) => `    - ${j}\n`).join('')}`), [backups]);
    env = { CARETAKER_CONFIG: agent.configPath, CARETAKER_ADMIN: agent.adminAddress };
  });

  after(async () => {
    await agent?.close();
    for (const socket of held) socket.destroy();
    silent?.close();
    await dir?.cleanup();
  });

  it('run: bytes and rate while the daemon writes it, on a terminal; the result line alone on a pipe', async () => {
    const terminal = await onTerminal(['backups', 'run', 'files'], env).done;
    assert.equal(terminal.code, EXIT.ok, terminal.output);
    const drawn = renders(terminal.output, "backup 'files'");
    assert.ok(drawn.length >= 2, `two or more progress updates: ${JSON.stringify(drawn)}`);
    assert.ok(drawn.some((line) => /\(dump\): {2}\d+\.\d MiB {2}\d+(\.\d)? MiB\/s$/.test(line)), JSON.stringify(drawn));
    assert.equal(drawn.filter((line) => line.includes('(verify)')).length, 1, 'the verify step once, with the final size and no rate');
    assert.match(terminal.output, /backup 'files' succeeded: files-.*\.tar\.gz \(200\.\d MiB/);

  });

  it('watch on a terminal follows a run someone else started (a piped run, which prints its result alone) to its result', async () => {
    const piped = onPipes(['backups', 'run', 'files'], env);
    await printed(piped, /started/);
    const watched = await onTerminal(['backups', 'watch', 'files'], env).done;
    assert.equal(watched.code, EXIT.ok, watched.output);
    assert.match(watched.output, /following the backup of 'files' started \S+ \(manual\)/);
    assert.ok(renders(watched.output, "backup 'files'").length >= 2, watched.output);
    assert.match(watched.output, /backup 'files' succeeded: /);

    const run = await piped.done;
    assert.equal(run.code, EXIT.ok, run.output);
    assert.doesNotMatch(run.output, /\r|\u001b|MiB\/s/);
    assert.match(run.output, /^backup 'files' started\nbackup 'files' succeeded: files-.*\.tar\.gz \(200\.\d MiB, \d+\.\d s\)\n$/);
  });

  it('restore and verify: bytes read of the file size by each tool on a terminal, nothing on a pipe or with --json', async () => {
    const target = join(dir.path, 'restored');
    await mkdir(target);
    const restore = await onTerminal(['backups', 'restore', 'files', 'latest', '--to', target, '--yes'], env).done;
    assert.equal(restore.code, EXIT.ok, restore.output);
    const drawn = renders(restore.output, "restore 'files'");
    assert.ok(drawn.length >= 2, `two or more progress updates: ${JSON.stringify(drawn)}`);
    assert.ok(drawn.some((line) => / \(tar\): {2}[\d.]+ MiB of 200\.0 MiB \(\d+%\) {2}[\d.]+ MiB\/s/.test(line)), JSON.stringify(drawn));
    assert.match(restore.output, /restored .*files-.*\.tar\.gz into the files under /);
    const restored = join(target, source().slice(1), 'random.bin');
    assert.equal((await stat(restored)).size, FILE_BYTES);
    await execFile('cmp', [restored, join(source(), 'random.bin')]);

    // Side by side: each only reads the backup (the piped restore into a directory of its own).
    const again = join(dir.path, 'restored-again');
    await mkdir(again);
    const [piped, verify, json] = await Promise.all([
      onPipes(['backups', 'restore', 'files', 'latest', '--to', again, '--yes'], env).done,
      onTerminal(['backups', 'verify', 'files', 'latest'], env).done,
      onTerminal(['--json', 'backups', 'verify', 'files', 'latest'], env).done,
    ]);
    assert.equal(piped.code, EXIT.ok, piped.output);
    assert.doesNotMatch(piped.output, /\r|\u001b|MiB\/s/);
    assert.match(piped.output, /^restoring latest into the files under .*…\nrestored .*files-.*\.tar\.gz into the files under .*\n$/);

    assert.equal(verify.code, EXIT.ok, verify.output);
    assert.ok(renders(verify.output, "verify 'files'").length >= 2, verify.output);
    assert.match(verify.output, /: OK \(sha256 \+ tar --list\)/);

    assert.equal(json.code, EXIT.ok, json.output);
    assert.doesNotMatch(json.output, /\r(?!\n)|\u001b|MiB/, '--json draws no progress, even on a terminal');
    assert.equal((JSON.parse(json.output) as { ok: boolean }).ok, true);
  });

  it('watch of a run that fails exits 1; with none running it says so and exits 3', async () => {
    const stuck = await fetch(agent.adminUrl('/backups/stuck/run'), { method: 'POST' });
    assert.equal(stuck.status, 202);
    const watching = onPipes(['backups', 'watch', 'stuck'], env);
    await printed(watching, /following the backup/);
    // The server it dumps hangs up: the run fails.
    for (const socket of held) socket.destroy();
    const failed = await watching.done;
    assert.equal(failed.code, EXIT.failure, failed.output);
    assert.match(failed.output, /^following the backup of 'stuck' started \S+ \(manual\)\nbackup 'stuck' failed \(error\): /);

    const idle = await onPipes(['backups', 'watch', 'files'], env).done;
    assert.equal(idle.code, 3, idle.output);
    assert.match(idle.output, /^no backup of 'files' is running; the last one succeeded at \S+ \(see 'caretaker backups list files'\)\n$/);
  });
});
