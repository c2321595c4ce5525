import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { freePort } from '../harness/ports.js';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { startSilentListener, type SilentListener } from '../harness/tcp-fakes.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { startTestAgent } from '../helpers/agent.js';
import { spawnCaretaker } from '../helpers/spawn.js';
import { widgets } from '../helpers/widgets-module.js';
import { slowToCompress } from '../modules/logs/setup.js';

const STOP_TIMEOUT_MS = 3_000;

let server: PostgresServer;
let blackHole: SilentListener;
let temp: TempDir;

before(async () => {
  [server, blackHole, temp] = await Promise.all([startPostgres(), startSilentListener(), makeTempDir('agent-stop')]);
  await server.psql('CREATE DATABASE app');
  await server.psql('CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g', 'app');
});
after(async () => {
  await Promise.all([server?.stop(), blackHole?.close()]);
  await temp?.cleanup();
});

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await condition()); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('SIGTERM with a probe hung on TLS, an ACME order hung, a backup mid-dump and a compression in flight: exit 0 within agent.stopTimeout, no partial files, one "aborted" line each', async (t) => {
  const logs = join(temp.path, 'logs');
  const backups = join(temp.path, 'backups');
  await mkdir(logs, { mode: 0o755 });
  await writeFile(join(logs, 'big.log'), slowToCompress());
  const config = join(temp.path, 'caretaker.yaml');
  const admin = `127.0.0.1:${await freePort()}`;
  await writeFile(
    config,
    [
      `agent: { stateDir: ${join(temp.path, 'state')}, stopTimeout: ${STOP_TIMEOUT_MS / 1000}s }`,
      `admin: { listen: "${admin}" }`,
      `metrics: { listen: "127.0.0.1:${await freePort()}", host: false }`,
      'probes:',
      `  - { name: hung, type: tcp, address: "127.0.0.1:${blackHole.port}", tls: {}, interval: 1h, timeout: 10m }`,
      'backups:',
      `  dir: ${backups}`,
      '  jobs:',
      `    - { name: app, type: postgres, url: "${server.url.replace(/\/postgres$/, '/app')}", schedule: "* * * * * *" }`,
      'logs:',
      // Rotated on request below, once the others are in flight: the compression then surely outlasts the wait.
      `  - { name: big, paths: [${join(logs, 'big.log')}], rotate: { maxSize: 1GiB }, compress: { level: 9 } }`,
      'certificates:',
      `  dir: ${join(temp.path, 'certs')}`,
      `  acme: { directory: "https://127.0.0.1:${blackHole.port}/dir", email: ops@example.com, requestTimeout: 5m }`,
      '  certs:',
      `    - { name: site, domains: [site.example.com], challenge: { type: http-01, standalone: { address: 127.0.0.1, port: ${await freePort()} } } }`,
    ].join('\n'),
  );

  // The table lock keeps pg_dump waiting mid-dump, with its .partial file open, for as long as the test needs.
  const locker = new pg.Client({ connectionString: server.url.replace(/\/postgres$/, '/app') });
  locker.on('error', () => undefined);
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
  const agent = spawnCaretaker(['run', '--config', config]);
  try {
    const names = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort();
    // The probe's handshake and the ACME order's directory request, both to the black hole.
    await until('two TLS handshakes to the black hole', async () => blackHole.connections() >= 2);
    await agent.waitForLine((line) => line.msg === 'renewing certificate');
    await until('pg_dump waiting on the lock', async () =>
      (await server.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'")).trim() !== '0',
    );
    await until('the partial backup file', async () => (await names(join(backups, 'app'))).some((n) => n.endsWith('.partial')));
    // Answered only when the rotation ends, which the stop cuts short.
    const rotation = fetch(`http://${admin}/logs/big/rotate`, { method: 'POST' }).catch((err: unknown) => err);
    await until('the compression temp file', async () => (await names(logs)).some((n) => n.endsWith('.tmp')));

    const stopping = Date.now();
    agent.child.kill('SIGTERM');
    const exit = await agent.exited;
    await rotation;
    const tookMs = Date.now() - stopping;
    assert.deepEqual(exit, { code: 0, signal: null }, agent.stderr());
    assert.ok(tookMs < STOP_TIMEOUT_MS, `stopped in ${tookMs} ms`);
    t.diagnostic(`SIGTERM to exit: ${tookMs} ms`);

    assert.deepEqual((await names(join(backups, 'app'))).filter((n) => n.endsWith('.partial')), []);
    const left = await names(logs);
    assert.ok(!left.some((n) => n.endsWith('.tmp') || n.endsWith('.gz')), left.join(', '));
    assert.ok(left.some((n) => /^big\.log-\d{8}T\d{6}Z$/.test(n)), `the rotated file is kept: ${left.join(', ')}`);

    const aborted = agent.lines.filter((line) => typeof line.msg === 'string' && line.msg.includes('aborted'));
    assert.deepEqual(
      aborted.map((line) => [line.level, line.module, line.probe ?? line.backup ?? line.log ?? line.cert, line.msg]).sort(),
      [
        ['info', 'backups', 'app', 'backup aborted: stopping'],
        ['info', 'certificates', 'site', 'renewal aborted: stopping'],
        ['info', 'logs', 'big', 'log check aborted: stopping'],
        ['info', 'probes', 'hung', 'check aborted: stopping'],
      ],
    );
    assert.equal(agent.lines.find((line) => line.msg === 'agent stopped')?.failed, false);
  } finally {
    agent.child.kill('SIGKILL');
    await locker.end().catch(() => undefined);
  }
});

test('agent.stopTimeout bounds the whole shutdown, not each module in turn: two modules that never stop cost one timeout, and the exit code is 1', async () => {
  const neverStops = (name: string) => ({
    ...widgets,
    name,
    prefix: `/${name}`,
    metrics: () => undefined,
    create: () => ({
      start: async () => undefined,
      reload: async () => undefined,
      stop: () => new Promise<void>(() => undefined),
      health: () => ({ status: 'ok' as const }),
      status: () => null,
    }),
  });
  const t = await startTestAgent(
    (dir) => `agent: { stateDir: ${join(dir, 'state')}, stopTimeout: 1s }\nadmin: { listen: "127.0.0.1:0" }\nmetrics: { listen: "127.0.0.1:0", host: false }\nfirst: [{ name: a }]\nsecond: [{ name: b }]\n`,
    [neverStops('first'), neverStops('second')],
  );
  try {
    const started = Date.now();
    assert.equal(await t.agent.shutdown(), 1);
    const tookMs = Date.now() - started;
    assert.ok(tookMs >= 950 && tookMs < 1_900, `shutdown took ${tookMs} ms`);
    const failures = t.logs.filter((line) => line.msg === 'module stop failed').map((line) => [line.module, line.err]);
    assert.deepEqual(failures.sort(), [
      ['first', 'did not stop within 1000 ms (agent.stopTimeout)'],
      ['second', 'did not stop within 1000 ms (agent.stopTimeout)'],
    ]);
  } finally {
    await t.close();
  }
});
