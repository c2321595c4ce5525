import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SYSTEMD_CREDENTIAL_STORES } from '../../src/agent/config/expand.js';
import { loadConfig } from '../../src/agent/config/load.js';
import { runCli } from '../../src/agent/cli/index.js';
import { EXIT } from '../../src/agent/kit/cli.js';
import { ConfigError } from '../../src/agent/kit/errors.js';
import { modules } from '../../src/modules/index.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { startTestAgent } from '../helpers/agent.js';
import { widgets } from '../helpers/widgets-module.js';

let tmp: TempDir;
let config: string;
let first: string;
let second: string;
before(async () => {
  tmp = await makeTempDir('credentials');
  first = join(tmp.path, 'etc-credstore');
  second = join(tmp.path, 'run-credstore');
  await mkdir(first, { mode: 0o700 });
  await mkdir(second, { mode: 0o700 });
  config = join(tmp.path, 'caretaker.yaml');
  await writeFile(
    config,
    `agent: { stateDir: ${tmp.path}/state }\nadmin: { token: "\${credential:admin-token}" }\n` +
      `backups:\n  dir: ${tmp.path}/backups\n  jobs:\n    - { name: etc, type: files, paths: [${tmp.path}], schedule: "0 2 * * *" }\n`,
  );
});
after(() => tmp.cleanup());

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, modules, { out: (t) => out.push(t), err: (t) => err.push(t), env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test("systemd's credential stores are searched in its order; a missing credential names every place and the fix", async () => {
  assert.deepEqual(SYSTEMD_CREDENTIAL_STORES.slice(0, 2), ['/etc/credstore', '/run/credstore']);
  const load = () => loadConfig(config, { modules, environment: { env: {}, credentialStores: [first, second] } });
  await assert.rejects(load(), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.issues[0]!.path, 'admin.token');
    assert.equal(
      err.issues[0]!.message,
      `credential admin-token not found: looked in ${first}, ${second} (where systemd's LoadCredential= finds it); create ${first}/admin-token (mode 0600), or pass --credentials-dir DIR`,
    );
    return true;
  });
  await writeFile(join(second, 'admin-token'), 'token-from-the-second-store\n');
  assert.equal((await load()).admin.token, 'token-from-the-second-store');
  await writeFile(join(first, 'admin-token'), 'token-from-the-first-store\n');
  const loaded = await load();
  assert.equal(loaded.admin.token, 'token-from-the-first-store');
  assert.deepEqual(loaded.secrets, ['token-from-the-first-store']);
});

test('the daemon reads only what LoadCredential= gave it: no store is searched without CREDENTIALS_DIRECTORY', async () => {
  await assert.rejects(loadConfig(config, { modules, environment: { env: {} } }), /\$\{credential:admin-token\} needs systemd's LoadCredential=admin-token/);
});

test('check-config from a root shell: --credentials-dir, else $CREDENTIALS_DIRECTORY', async () => {
  const dir = join(tmp.path, 'given');
  await mkdir(dir);
  await writeFile(join(dir, 'admin-token'), 'a-token-of-enough-length');
  assert.equal((await cli(['check-config', '--config', config, '--credentials-dir', dir])).code, EXIT.ok);
  assert.equal((await cli(['check-config', '--config', config], { CREDENTIALS_DIRECTORY: dir })).code, EXIT.ok);
  const empty = join(tmp.path, 'empty');
  await mkdir(empty);
  const refused = await cli(['check-config', '--config', config, '--credentials-dir', empty], { CREDENTIALS_DIRECTORY: dir });
  assert.equal(refused.code, EXIT.config, 'the option wins over the environment');
  assert.match(refused.err, new RegExp(`admin\\.token: cannot read credential admin-token from ${empty}: ENOENT`));
});

test('backups verify and restore load the section with the same credentials (the file is what fails, not the config)', async () => {
  const dir = join(tmp.path, 'given');
  const withCredentials = await cli(['backups', 'verify', 'etc', 'no-such-backup.tar.gz', '--config', config, '--credentials-dir', dir]);
  assert.notEqual(withCredentials.code, EXIT.config, withCredentials.err);
  assert.match(withCredentials.err, /no-such-backup\.tar\.gz/);
  const restore = await cli(['backups', 'restore', 'etc', 'no-such-backup.tar.gz', '--yes', '--config', config, '--credentials-dir', dir]);
  assert.notEqual(restore.code, EXIT.config, restore.err);
  const without = await cli(['backups', 'verify', 'etc', 'no-such-backup.tar.gz', '--config', config, '--credentials-dir', join(tmp.path, 'empty')]);
  assert.equal(without.code, EXIT.config);
  assert.match(without.err, /admin\.token: cannot read credential admin-token/);
});

test('reload from a root shell finds a ${credential:} admin token with --credentials-dir', async () => {
  const dir = join(tmp.path, 'for-reload');
  await mkdir(dir);
  await writeFile(join(dir, 'admin-token'), 'a-token-of-enough-length');
  const previous = process.env.CREDENTIALS_DIRECTORY;
  process.env.CREDENTIALS_DIRECTORY = dir;
  // The in-process daemon reads its credentials where systemd would put them, for boot and for reload.
  const t = await startTestAgent((state) => `agent: { stateDir: ${state}/state }\nadmin: { listen: "127.0.0.1:0", token: "\${credential:admin-token}" }\nmetrics: { listen: "127.0.0.1:0", host: false }\n`, [widgets]);
  try {
    const args = ['reload', '--url', t.adminAddress, '--config', t.configPath];
    assert.equal((await cli([...args, '--credentials-dir', dir])).code, EXIT.ok);
    assert.equal((await cli([...args, '--credentials-dir', tmp.path])).code, EXIT.failure, 'no token, refused');
  } finally {
    await t.close();
    if (previous === undefined) delete process.env.CREDENTIALS_DIRECTORY;
    else process.env.CREDENTIALS_DIRECTORY = previous;
  }
});
