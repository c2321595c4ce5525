// The tests that need no servers of the host, run again under Debian 12's own Node.js 18 (the `nodejs`
// package in the e2e rootfs), so the floor in package.json and install.sh is one we run, not one we claim.
// The rootfs runs as a throw-away nspawn container (no boot, no network of its own) with this checkout
// bound at the same path.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureRootfs } from '../e2e/container.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ROOTFS = process.env.E2E_ROOTFS ?? '/var/tmp/caretaker-e2e-rootfs';
/** Containers a share's files are spread over. */
const LANES = 3;

/**
 * Files that start servers or tools of the host (redis, postgres, pebble, nginx, promtool, wrk, node_exporter,
 * openssl, python3, the systemd container) are covered by the e2e under Node 18 instead, and files that
 * measure latency (`run-alone`) would measure the machine; everything else runs here.
 */
const NEEDS_HOST = /harness\/(redis|redis-netns|postgres|pebble|nginx|redis-sentinel|acme-proxy|https|certs|deps|sshd|rclone|smtp)\.js|\b(restic|logrotate|certbot|chromium)\b|\bpromtool\b|\bwrk\b|node_exporter|prometheus|'openssl'|python3|\.\.\/e2e\/|^\/\/ caretaker-test: run-alone/m;

/** Tests that mock Date (the runner's mock.timers learnt it in Node 20.4); the code they test is in other files too. */
const NEEDS_NODE20_RUNNER = /mock\.timers\.enable\(\{ apis: \[[^\]]*'Date'/;

async function testFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await testFiles(path)));
    else if (entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** Runs a command under the rootfs's Node.js; resolves with its exit code and output. */
function inRootfs(command: string[], timeoutMs: number): Promise<{ code: number; output: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'systemd-nspawn',
      ['--quiet', '--register=no', '--keep-unit', '--console=pipe', `--directory=${ROOTFS}`, '--volatile=overlay', `--bind=${root}`, '--bind-ro=/etc/hosts', `--chdir=${root}`, '--', ...command],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SYSTEMD_LOG_LEVEL: 'err' } },
    );
    let output = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command.join(' ')} under Node 18 still running after ${timeoutMs} ms\n${output.slice(-4000)}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output, stdout });
    });
  });
}

/**
 * Registers the Node 18 tests of one share of the files (`part` of `parts`, by sorted position): one file per
 * share keeps each under the suite's 180 s a file; the shares run one after another, in the alone phase.
 */
export function node18Tests(part: number, parts: number): void {
  before(async () => ensureRootfs(), { timeout: 35 * 60_000 });
  if (part === 0) versionTest();
  filesTest(part, parts);
}

function versionTest(): void {
test('the rootfs Node.js is Debian 12’s 18.x, the floor package.json declares', async () => {
  const { code, output, stdout } = await inRootfs(['node', '-p', 'process.versions.node'], 60_000);
  assert.equal(code, 0, output);
  assert.match(stdout.trim(), /^18\.(19|[2-9]\d)\.\d+$/);
  const engines = (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  assert.equal(engines, '>=18.19');
});
}

function filesTest(part: number, parts: number): void {
test(`every test that needs no host server passes under Node 18 (share ${part + 1} of ${parts})`, { timeout: 15 * 60_000 }, async (t) => {
  const selected: string[] = [];
  for (const file of (await testFiles(join(root, 'test'))).sort()) {
    // static.test.ts runs the developer tools over the tree (dependency-cruiser needs Node 20's util.styleText):
    // the suite itself needs Node 20, the product does not.
    if (file.includes('/test/node18/') || file.includes('/test/e2e/') || file.endsWith('/test/static.test.ts')) continue;
    const text = await readFile(file, 'utf8');
    if (!NEEDS_HOST.test(text) && !NEEDS_NODE20_RUNNER.test(text)) selected.push(relative(root, file));
  }
  assert.ok(selected.length >= 40, `only ${selected.length} files selected`);
  const files = selected.filter((_, index) => index % parts === part);
  // Node 18's runner has no --test-concurrency or --test-timeout and runs one file at a time on two cores, and
  // these files mostly wait (timers, child processes): a share runs in LANES containers side by side.
  const lanes = Array.from({ length: LANES }, (_, lane) => files.filter((_, index) => index % LANES === lane)).filter((lane) => lane.length > 0);
  const runs = await Promise.all(lanes.map((lane) => inRootfs(['node', '--import', 'tsx', '--test', '--test-reporter=tap', ...lane], 14 * 60_000)));
  const output = runs.map((run) => run.output).join('\n');
  const failed = output.split('\n').filter((line) => /^not ok /.test(line));
  for (const run of runs) {
    assert.equal(run.code, 0, `under Node 18: ${failed.join('; ')}\n${run.output.slice(-6000)}`);
    assert.match(run.output, /^# fail 0$/m);
  }
  const passed = runs.reduce((sum, run) => sum + Number(/^# pass (\d+)$/m.exec(run.output)?.[1] ?? 0), 0);
  t.diagnostic(`${files.length} files in ${lanes.length} containers, ${passed} tests passed under Node 18`);
});
}
