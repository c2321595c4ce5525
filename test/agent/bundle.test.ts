import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../harness/ports.js';
import { allModulesConfig } from '../metrics/all-modules.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the production bundle builds and runs every module from one file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caretaker-bundle-'));
  const built = spawnSync(process.execPath, ['scripts/build.mjs', join(dir, 'dist')], { cwd: root, encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const bundle = join(dir, 'dist', 'caretaker.mjs');
  // zod's other locales are left out of the bundle (scripts/build.mjs); its English messages stay.
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'agent:\n  stateDir: 5\n');
  const checked = spawnSync(process.execPath, [bundle, 'check-config', '--config', bad], { encoding: 'utf8' });
  assert.equal(checked.status, 78);
  assert.match(checked.stderr + checked.stdout, /bad\.yaml:2:13: agent\.stateDir: Invalid input: expected string, received number/);
  const source = await readFile(bundle, 'utf8');
  assert.ok(!source.includes('Entr\\xE9e invalide'), 'the French locale was bundled');
  assert.ok(source.includes('Invalid input'));
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  assert.equal(spawnSync(process.execPath, [bundle, 'version'], { encoding: 'utf8' }).stdout.trim(), `caretaker ${version} (node ${process.versions.node})`);

  const [admin, metrics] = [await freePort(), await freePort()];
  // The example's cluster section needs secrets and a Redis; a dead port is enough for the module to run in the bundle.
  const cluster = `cluster: { redis: "redis://127.0.0.1:${await freePort()}", name: bundle, leaseTtl: 15s, encryptionKey: "a-test-key-of-at-least-thirty-two-characters" }\n`;
  await writeFile(join(dir, 'caretaker.yaml'), (await allModulesConfig(dir, { admin, metrics })) + cluster);
  // pg's Cloudflare check loaded Node's undici (12 MiB) into an agent that never fetches (scripts/build.mjs).
  const reportUndici = "process.on('exit', () => process.stderr.write(`undici loaded: ${process.moduleLoadList.some((m) => m.includes('undici'))}\\n`));";
  const child = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(reportUndici)}`, bundle, 'run', '--config', join(dir, 'caretaker.yaml')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    let status: { modules: Array<{ name: string; state: string }> } | undefined;
    // The admin API answers while modules are still starting; wait until none is absent.
    for (let i = 0; i < 300 && !status?.modules.every((m) => m.state !== 'absent'); i++) {
      status = await fetch(`http://127.0.0.1:${admin}/status`)
        .then((r) => r.json() as Promise<typeof status>)
        .catch(() => undefined);
      await sleep(50);
    }
    assert.ok(status, `bundle never answered: ${stderr}`);
    assert.deepEqual(
      status.modules.map((m) => [m.name, m.state]),
      [['cluster', 'running'], ['certificates', 'running'], ['backups', 'running'], ['probes', 'running'], ['logs', 'running'], ['alerts', 'running']],
    );
    assert.equal((await fetch(`http://127.0.0.1:${metrics}/metrics`)).status, 200);
  } finally {
    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.on('exit', resolve));
    await rm(dir, { recursive: true, force: true });
    assert.equal(code, 0, stderr);
  }
  assert.match(stderr, /undici loaded: false/, 'a postgres probe and backup job are configured, so pg was loaded');
});
