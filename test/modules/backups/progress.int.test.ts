import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../../src/agent/kit/cli.js';
import { backups } from '../../../src/modules/backups/index.js';
import { execFile } from '../../../src/agent/kit/exec.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { baseConfig, startTestAgent, type TestAgent } from '../../helpers/agent.js';

const MAIN = fileURLToPath(new URL('../../../src/agent/main.ts', import.meta.url));
/** Random bytes: gzip cannot shrink them, so the backup is as big as the file and takes seconds to write. */
const FILE_BYTES = 200 * 1024 * 1024;

interface Ran {
  code: number | null;
  /** What the terminal (or the pipes) received, stdout and stderr together. */
  output: string;
}

/** `caretaker ARGS` on a pseudo-terminal (util-linux script), as a user at a shell runs it. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  const quoted = [process.execPath, '--import', 'tsx', MAIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return collect(spawn('script', ['--quiet', '--return', '--command', quoted, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** `caretaker ARGS` with stdout and stderr on pipes, as in a script or a cron job. */
function onPipes(args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return collect(spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

function collect(child: ReturnType<typeof spawn>): Promise<Ran> {
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
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
  const source = () => join(dir.path, 'source');

  before(async () => {
    dir = await makeTempDir('backups-progress');
    await mkdir(source());
    await execFile('sh', ['-c', `head -c ${FILE_BYTES} /dev/urandom > "$0"`, join(source(), 'random.bin')]);
    agent = await startTestAgent(
      (root) =>
        baseConfig(
          root,
          `backups:\n  dir: ${join(dir.path, 'backups')}\n  jobs:\n    - { name: files, type: files, paths: ["${source()}"], schedule: "0 3 1 1 *", timezone: UTC }\n`,
        ),
      [backups],
    );
    env = { CARETAKER_CONFIG: agent.configPath, CARETAKER_ADMIN: agent.adminAddress };
  });

  after(async () => {
    await agent?.close();
    await dir?.cleanup();
  });

  it('run: bytes and rate while the daemon writes it, on a terminal; the result line alone on a pipe', async () => {
    const terminal = await onTerminal(['backups', 'run', 'files'], env);
    assert.equal(terminal.code, EXIT.ok, terminal.output);
    const drawn = renders(terminal.output, "backup 'files'");
    assert.ok(drawn.length >= 2, `two or more progress updates: ${JSON.stringify(drawn)}`);
    assert.ok(drawn.some((line) => /\(dump\): {2}\d+\.\d MiB {2}\d+(\.\d)? MiB\/s$/.test(line)), JSON.stringify(drawn));
    assert.equal(drawn.filter((line) => line.includes('(verify)')).length, 1, 'the verify step once, with the final size and no rate');
    assert.match(terminal.output, /backup 'files' succeeded: files-.*\.tar\.gz \(200\.\d MiB/);

    const piped = await onPipes(['backups', 'run', 'files'], env);
    assert.equal(piped.code, EXIT.ok, piped.output);
    assert.doesNotMatch(piped.output, /\r|\u001b|MiB\/s/);
    assert.match(piped.output, /^backup 'files' started\nbackup 'files' succeeded: files-.*\.tar\.gz \(200\.\d MiB, \d+\.\d s\)\n$/);

  });

  it('restore and verify: bytes read of the file size by each tool on a terminal, nothing on a pipe or with --json', async () => {
    const target = join(dir.path, 'restored');
    await mkdir(target);
    const restore = await onTerminal(['backups', 'restore', 'files', 'latest', '--to', target, '--yes'], env);
    assert.equal(restore.code, EXIT.ok, restore.output);
    const drawn = renders(restore.output, "restore 'files'");
    assert.ok(drawn.length >= 2, `two or more progress updates: ${JSON.stringify(drawn)}`);
    assert.ok(drawn.some((line) => / \(tar\): {2}[\d.]+ MiB of 200\.0 MiB \(\d+%\) {2}[\d.]+ MiB\/s/.test(line)), JSON.stringify(drawn));
    assert.match(restore.output, /restored .*files-.*\.tar\.gz into the files under /);
    const restored = join(target, source().slice(1), 'random.bin');
    assert.equal((await stat(restored)).size, FILE_BYTES);
    assert.ok((await readFile(restored)).equals(await readFile(join(source(), 'random.bin'))));

    const piped = await onPipes(['backups', 'restore', 'files', 'latest', '--to', target, '--yes'], env);
    assert.equal(piped.code, EXIT.ok, piped.output);
    assert.doesNotMatch(piped.output, /\r|\u001b|MiB\/s/);

    const verify = await onTerminal(['backups', 'verify', 'files', 'latest'], env);
    assert.equal(verify.code, EXIT.ok, verify.output);
    assert.ok(renders(verify.output, "verify 'files'").length >= 2, verify.output);
    assert.match(verify.output, /: OK \(sha256 \+ tar --list\)/);

    const json = await onTerminal(['--json', 'backups', 'verify', 'files', 'latest'], env);
    assert.equal(json.code, EXIT.ok, json.output);
    assert.doesNotMatch(json.output, /\r(?!\n)|\u001b|MiB/, '--json draws no progress, even on a terminal');
    assert.equal((JSON.parse(json.output) as { ok: boolean }).ok, true);
  });

  it('watch follows a run the daemon started to its result (exit 0); with none running it says so and exits 3', async () => {
    const started = await fetch(agent.adminUrl('/backups/files/run'), { method: 'POST' });
    assert.equal(started.status, 202);
    const watched = await onTerminal(['backups', 'watch', 'files'], env);
    assert.equal(watched.code, EXIT.ok, watched.output);
    assert.match(watched.output, /following the backup of 'files' started \S+ \(manual\)/);
    assert.ok(renders(watched.output, "backup 'files'").length >= 2, watched.output);
    assert.match(watched.output, /backup 'files' succeeded: /);

    const idle = await onPipes(['backups', 'watch', 'files'], env);
    assert.equal(idle.code, 3, idle.output);
    assert.match(idle.output, /^no backup of 'files' is running; the last one succeeded at \S+ \(see 'caretaker backups list files'\)\n$/);
  });
});
