import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startPebble, type PebbleServer } from '../harness/pebble.js';
import { freePort } from '../harness/ports.js';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';

/**
 * The production bundle against real servers. Libraries loaded lazily (ioredis, pg, acme-client) are
 * bundled differently from how Node loads them from source, so the module tests (which run the source)
 * cannot vouch for the bundle: this test does.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
let tmp: TempDir;
let redis: RedisServer;
let postgres: PostgresServer;
let pebble: PebbleServer;

before(async () => {
  tmp = await makeTempDir('bundle-servers');
  [redis, postgres, pebble] = await Promise.all([startRedis({ password: 'bundle-secret' }), startPostgres(), startPebble()]);
});
after(async () => {
  await Promise.all([redis?.stop(), postgres?.stop(), pebble?.stop()]);
  await tmp?.cleanup();
});

async function api<T>(base: string, method: string, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(30_000), ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}) });
  return { status: response.status, body: (await response.json()) as T };
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000, alive: () => boolean = () => true): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`the agent exited while waiting for ${what}`);
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

test('the bundle probes, backs up and certifies against real redis, postgres and pebble', async () => {
  const dist = join(tmp.path, 'dist');
  const built = spawnSync(process.execPath, ['scripts/build.mjs', dist], { cwd: root, encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const [admin, metrics] = [await freePort(), await freePort()];
  const certs = join(tmp.path, 'certs');
  await writeFile(
    join(tmp.path, 'caretaker.yaml'),
    `agent: { stateDir: ${tmp.path}/state }
admin: { listen: "127.0.0.1:${admin}" }
metrics: { listen: "127.0.0.1:${metrics}", host: false }
probes:
  - { name: cache, type: redis, url: "${redis.url}", interval: 1s, timeout: 1s, critical: true }
  - { name: db, type: postgres, url: "${postgres.url}", interval: 1s, timeout: 1s, critical: true }
backups:
  dir: ${tmp.path}/backups
  jobs:
    - { name: cache, type: redis, url: "${redis.url}", schedule: "0 3 * * *" }
    - { name: db, type: postgres, url: "${postgres.url}", schedule: "0 3 * * *" }
certificates:
  dir: ${certs}
  acme: { directory: "${pebble.directoryUrl}", email: ops@example.com, caBundle: ${pebble.ca} }
  certs:
    - { name: bundle, domains: [bundle.example.com], challenge: { type: http-01, standalone: { address: 127.0.0.1, port: ${pebble.httpPort} } } }
`,
  );
  const child = spawn(process.execPath, [join(dist, 'caretaker.mjs'), 'run', '--config', join(tmp.path, 'caretaker.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  const base = `http://127.0.0.1:${admin}`;
  const running = () => child.exitCode === null;
  try {
    const deep = await until('both probes up', async () => {
      const answer = await api<{ checks: Array<{ module: string; name: string; ok: boolean }> }>(base, 'GET', '/health/deep');
      const probes = answer.body.checks.filter((c) => c.module === 'probes');
      return answer.status === 200 && probes.length === 2 ? probes : undefined;
    }, 60_000, running).catch((err: Error) => assert.fail(`${err.message}\n${output}`));
    assert.deepEqual(deep.map((c) => [c.name, c.ok]), [['cache', true], ['db', true]]);

    for (const job of ['cache', 'db']) {
      assert.equal((await api(base, 'POST', `/backups/${job}/run`)).status, 202);
      const run = await until(`backup ${job}`, async () => {
        const detail = await api<{ lastRun?: { result: string; message?: string } | null }>(base, 'GET', `/backups/${job}`);
        return detail.body.lastRun ?? undefined;
      }, 60_000, running);
      assert.equal(run.result, 'success', `${job}: ${run.message}\n${output}`);
    }

    const renewed = await api<{ result: string; certificate: { lastError?: string } }>(base, 'POST', '/certs/bundle/renew');
    assert.equal(renewed.body.result, 'success', `${renewed.body.certificate.lastError}\n${output}`);
    const cert = new X509Certificate(await readFile(join(certs, 'live', 'bundle', 'cert.pem')));
    assert.match(cert.subjectAltName ?? '', /bundle\.example\.com/);
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
  }
});
