import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../../src/agent/cli/index.js';
import { EXIT } from '../../src/agent/kit/cli.js';
import type { CertificateView } from '../../src/modules/certificates/cert-state.js';
import { modules } from '../../src/modules/index.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { allModulesConfig } from '../metrics/all-modules.js';
import { baseConfig, startTestAgent, type TestAgent } from '../helpers/agent.js';

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, modules, { out: (s) => out.push(s), err: (s) => err.push(s), env: {} });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('a module without a section: every command exits 78 (EX_CONFIG) and says so', () => {
  let t: TestAgent;
  before(async () => {
    t = await startTestAgent((dir) => baseConfig(dir), modules);
  });
  after(() => t.close());

  for (const args of [['probes'], ['probes', 'api'], ['certs'], ['certs', 'renew', 'web'], ['backups'], ['backups', 'run', 'pg'], ['logs'], ['logs', 'rotate', 'nginx']]) {
    test(`caretaker ${args.join(' ')}`, async () => {
      const result = await cli([...args, '--url', t.adminAddress, '--config', t.configPath]);
      assert.equal(result.code, EXIT.config, result.err);
      assert.match(result.err, new RegExp(`the ${args[0] === 'certs' ? 'certificates' : args[0]} module is not configured \\(no '\\w+' section in the config\\)`));
    });
  }

  test('caretaker backups verify, which reads the config with the daemon stopped', async () => {
    const result = await cli(['backups', 'verify', 'pg', 'x.dump', '--config', t.configPath]);
    assert.equal(result.code, EXIT.config, result.err);
    assert.match(result.err, /the backups module is not configured \(no 'backups' section in the config\)/);
  });
});

describe('examples/full.yaml, with a CA and servers that do not answer', () => {
  let dir: TempDir;
  let t: TestAgent;
  before(async () => {
    dir = await makeTempDir('cli-exit-codes');
    // examples/full.yaml with the CA on a port where nothing listens: the first order fails at once.
    t = await startTestAgent(await allModulesConfig(dir.path, { host: false }), modules);
  });
  after(async () => {
    await t.close();
    await dir.cleanup();
  });

  test('an unknown name exits 64 (usage) from every command', async () => {
    for (const args of [['probes', 'nosuch'], ['certs', 'renew', 'nosuch'], ['backups', 'list', 'nosuch'], ['backups', 'run', 'nosuch'], ['logs', 'rotate', 'nosuch']]) {
      const result = await cli([...args, '--url', t.adminAddress]);
      assert.equal(result.code, EXIT.usage, `${args.join(' ')}: ${result.err}`);
      assert.match(result.err, /nosuch/);
    }
  });

  test('a certificate never issued because its first order failed: caretaker certs and caretaker status exit 1', async () => {
    const url = t.adminAddress;
    const deadline = Date.now() + 30_000;
    let certs: CertificateView[] = [];
    while (Date.now() < deadline) {
      certs = (JSON.parse((await cli(['certs', '--json', '--url', url])).out) as CertificateView[]);
      if (certs.every((c) => c.state === 'failed')) break;
      await sleep(100);
    }
    assert.deepEqual(certs.map((c) => [c.state, c.serial]), certs.map(() => ['failed', undefined]));
    const list = await cli(['certs', '--url', url]);
    assert.equal(list.code, EXIT.failure, list.out);
    assert.match(list.out, /failed .*connection refused/);
    const status = await cli(['status', '--url', url]);
    assert.equal(status.code, EXIT.failure, status.out);
    assert.match(status.out, /certificates\s+degraded/);
  });
});
