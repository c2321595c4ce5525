/**
 * The broken-config corpus: every file in configs/ is refused by `caretaker check-config` (the real
 * program) with exit 78 and by POST /reload of one running agent with 400, naming the key or line,
 * with no stack trace and no secret, while the agent keeps its config. Plus the inputs too big to
 * keep in the repo: a 5 MB and a 50 MB file, 1 MiB of pathological YAML, a FIFO.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatIssue, type ConfigIssue } from '../../src/agent/kit/errors.js';
import { freePort } from '../harness/ports.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const corpusDir = fileURLToPath(new URL('configs/', import.meta.url));
const corpus = (await readdir(corpusDir)).filter((f) => f.endsWith('.yaml')).sort();

/** What the corpus expands: none of these may appear in any output. */
const SECRETS = { env: 'PgPw-S3cr3t-fuzz', credential: 'Cred-S3cr3t-fuzz-token' };
/** A stack frame, printed or inside a JSON string (a log line, a /reload body). */
const STACK_TRACE = /(^|\\n)\s+at \S/m;

/** The unit's NODE_OPTIONS, so the heap ceiling is the one production runs under. */
async function unitNodeOptions(): Promise<string> {
  const unit = await readFile(join(root, 'systemd/caretaker.service'), 'utf8');
  const match = /^Environment="NODE_OPTIONS=([^"]+)"/m.exec(unit);
  assert.ok(match, 'no NODE_OPTIONS in systemd/caretaker.service');
  return match[1]!;
}

interface Expectation {
  fragments: string[];
}

async function expectationsOf(name: string): Promise<Expectation> {
  const text = await readFile(join(corpusDir, name), 'latin1');
  const fragments = text
    .split('\n')
    .filter((line) => line.startsWith('# expect: '))
    .map((line) => line.slice('# expect: '.length));
  return { fragments };
}

function run(bundle: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => resolve({ code, output, ms: Date.now() - started }));
  });
}

/** Runs `work` over `items`, `width` at a time (the machine has two cores). */
async function pool<T, R>(items: readonly T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!);
      }
    }),
  );
  return results;
}

function assertClean(output: string, where: string): void {
  assert.doesNotMatch(output, STACK_TRACE, `${where}: a stack trace`);
  for (const secret of Object.values(SECRETS)) assert.ok(!output.toLowerCase().includes(secret.toLowerCase()), `${where}: the secret ${secret} is shown:\n${output}`);
}

let tmp: TempDir;
let bundle: string;
let env: NodeJS.ProcessEnv;
let agent: ChildProcess;
let agentOutput = '';
let adminUrl: string;
let configPath: string;
let goodConfig: string;
const checkResults = new Map<string, { code: number | null; output: string }>();

before(async () => {
  tmp = await makeTempDir('fuzz');
  const built = spawnSync(process.execPath, ['scripts/build.mjs', join(tmp.path, 'dist')], { cwd: root, encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  bundle = join(tmp.path, 'dist', 'caretaker.mjs');
  const credentials = join(tmp.path, 'credentials');
  execFileSync('mkdir', ['-m', '0700', credentials]);
  await writeFile(join(credentials, 'fuzz-token'), `${SECRETS.credential}\n`);
  env = { FUZZ_PW: SECRETS.env, CREDENTIALS_DIRECTORY: credentials, NODE_OPTIONS: await unitNodeOptions(), NOTIFY_SOCKET: '', WATCHDOG_USEC: '' };

  const [admin, metrics, closed] = [await freePort(), await freePort(), await freePort()];
  configPath = join(tmp.path, 'caretaker.yaml');
  adminUrl = `http://127.0.0.1:${admin}`;
  goodConfig = [
    `agent: { stateDir: ${join(tmp.path, 'state')} }`,
    `admin: { listen: "127.0.0.1:${admin}", token: "\${credential:fuzz-token}" }`,
    `metrics: { listen: "127.0.0.1:${metrics}", host: false }`,
    'probes:',
    `  - { name: kept, type: tcp, address: "127.0.0.1:${closed}", interval: 1h }`,
    '',
  ].join('\n');
  await writeFile(configPath, goodConfig);
  agent = spawn(process.execPath, [bundle, 'run', '--config', configPath], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  agent.stdout!.on('data', (chunk: Buffer) => (agentOutput += chunk.toString()));
  agent.stderr!.on('data', (chunk: Buffer) => (agentOutput += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!agentOutput.includes('"agent ready"')) {
    assert.ok(Date.now() < deadline && agent.exitCode === null, `the agent did not start:\n${agentOutput}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const results = await pool(corpus, 3, (name) => run(bundle, ['check-config', '--config', join(corpusDir, name)], env));
  corpus.forEach((name, i) => checkResults.set(name, results[i]!));
});

after(async () => {
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await new Promise((resolve) => agent.once('exit', resolve));
  }
  await tmp?.cleanup();
});

/** What the running agent shows of its config: its modules and their items. */
async function runningConfig(): Promise<unknown> {
  const status = (await (await fetch(`${adminUrl}/status`)).json()) as { config: string; modules: Array<{ name: string; state: string; status: unknown }> };
  return { config: status.config, modules: status.modules.map((m) => ({ name: m.name, state: m.state, status: m.status })) };
}

async function reloadWith(text: string | Buffer): Promise<{ status: number; body: { issues?: ConfigIssue[]; error?: string } }> {
  await writeFile(configPath, text);
  const response = await fetch(`${adminUrl}/reload`, { method: 'POST', headers: { authorization: `Bearer ${SECRETS.credential}` } });
  return { status: response.status, body: (await response.json()) as { issues?: ConfigIssue[] } };
}

test('the corpus holds at least 60 broken configs, each with what its refusal must say', async () => {
  assert.ok(corpus.length >= 60, `only ${corpus.length} configs`);
  for (const name of corpus) assert.ok((await expectationsOf(name)).fragments.length > 0, `${name} has no # expect: line`);
});

describe('check-config refuses each with exit 78, naming the key or line', () => {
  for (const name of corpus) {
    test(name, async () => {
      const result = checkResults.get(name)!;
      assert.equal(result.code, 78, result.output);
      for (const fragment of (await expectationsOf(name)).fragments) assert.ok(result.output.includes(fragment), `expected "${fragment}" in:\n${result.output}`);
      // Every problem line starts with the file, and with its line when the problem is at a key.
      const problems = result.output.split('\n').filter((line) => line.startsWith('  '));
      assert.ok(problems.length > 0, result.output);
      for (const line of problems) assert.match(line, new RegExp(`^  ${corpusDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${name.replace('.', '\\.')}(:\\d+:\\d+)?: `));
      assertClean(result.output, name);
      assert.ok(result.output.length < 20_000, `${result.output.length} characters of output`);
    });
  }
});

describe('POST /reload refuses each with 400 and the running config stays', () => {
  let before: unknown;
  test('the agent runs the good config', async () => {
    before = await runningConfig();
    assert.match(JSON.stringify(before), /"kept"/);
  });
  for (const name of corpus) {
    test(name, async () => {
      const { status, body } = await reloadWith(await readFile(join(corpusDir, name)));
      assert.equal(status, 400, JSON.stringify(body));
      assert.ok(body.issues && body.issues.length > 0, JSON.stringify(body));
      const text = body.issues.map(formatIssue).join('\n');
      for (const fragment of (await expectationsOf(name)).fragments) assert.ok(text.includes(fragment), `expected "${fragment}" in:\n${text}`);
      for (const issue of body.issues) assert.ok(issue.path !== '' || issue.location, `an issue names neither key nor file: ${JSON.stringify(issue)}`);
      assertClean(JSON.stringify(body), name);
      assert.deepEqual(await runningConfig(), before);
    });
  }
  test('the agent logged every refusal without a secret or a stack trace, and runs on', async () => {
    assert.equal(agent.exitCode, null);
    assert.ok(agentOutput.split('\n').filter((line) => line.includes('reload refused')).length >= corpus.length);
    assertClean(agentOutput, 'agent log');
    await writeFile(configPath, goodConfig);
  });
});

describe('inputs too big for the repo', () => {
  const MiB = 1024 * 1024;

  test('a 5 MB config is refused by POST /reload under the unit heap limit, naming the file and the limit; the agent stays up', async () => {
    const before = await runningConfig();
    const { status, body } = await reloadWith(`admin:\n  token: "${'x'.repeat(5 * MiB)}"\n`);
    assert.equal(status, 400);
    assert.match(body.issues![0]!.message, /config file .*caretaker\.yaml is \d+ bytes, over the limit of 1 MiB/);
    assert.deepEqual(await runningConfig(), before);
    assert.equal((await fetch(`${adminUrl}/health`)).status, 200);
  });

  test('1 MiB of pathological YAML is refused by POST /reload without crashing the agent', async () => {
    const before = await runningConfig();
    const cases = {
      'a flat sequence': `probes: [${'1,'.repeat(MiB / 2 - 16)}1]\n`,
      'deep flow nesting': `probes: ${'['.repeat(MiB / 2 - 16)}${']'.repeat(MiB / 2 - 16)}\n`,
      'a block sequence': `probes:\n${'  - x\n'.repeat(MiB / 6 - 4)}`,
      'many keys': Array.from({ length: 80_000 }, (_, i) => `k${i}: v`).join('\n').slice(0, MiB - 1),
    };
    for (const [what, text] of Object.entries(cases)) {
      assert.ok(text.length <= MiB, what);
      const started = Date.now();
      const { status, body } = await reloadWith(text);
      assert.equal(status, 400, `${what}: ${JSON.stringify(body).slice(0, 300)}`);
      assert.match(body.issues![0]!.message, /invalid YAML: (more than \d+ values|nested more than)/, what);
      assert.ok(Date.now() - started < 10_000, `${what} took ${Date.now() - started} ms`);
      assert.equal(agent.exitCode, null, `${what} killed the agent:\n${agentOutput.slice(-2000)}`);
    }
    assert.deepEqual(await runningConfig(), before);
    await writeFile(configPath, goodConfig);
  });

  test('check-config of a 50 MB file exits 78 quickly, without reading it', async () => {
    const file = join(tmp.path, 'huge.yaml');
    await writeFile(file, `admin:\n  token: "${'x'.repeat(50 * MiB)}"\n`);
    const result = await run(bundle, ['check-config', '--config', file], env);
    assert.equal(result.code, 78, result.output);
    assert.match(result.output, /huge\.yaml is 52428\d\d\d bytes, over the limit of 1 MiB \(1048576 bytes\)/);
    assert.ok(result.ms < 5_000, `took ${result.ms} ms`);
    // Commands that only look for the admin address and token in the file read it within the same bounds.
    const status = await run(bundle, ['status', '--url', adminUrl, '--config', file], env);
    assert.ok(status.code === 0 || status.code === 1, status.output);
    assert.ok(status.ms < 5_000, `status took ${status.ms} ms`);
  });

  test('check-config of a FIFO exits 78 at once instead of waiting for a writer', async () => {
    const fifo = join(tmp.path, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const result = await run(bundle, ['check-config', '--config', fifo], env);
    assert.equal(result.code, 78, result.output);
    assert.match(result.output, /fifo\.yaml is not a regular file/);
  });
});
