import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { z } from 'zod';
import { deprecatedKeys } from '../../../src/agent/config/deprecated.js';
import { loadConfig } from '../../../src/agent/config/load.js';
import { runCli } from '../../../src/agent/cli/index.js';
import { EXIT } from '../../../src/agent/kit/cli.js';
import { modules } from '../../../src/modules/index.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { baseConfig, startTestAgent } from '../../helpers/agent.js';

const old = z.boolean().optional().meta({ deprecated: true, description: 'write `new` instead' });
const schema = z.strictObject({
  items: z.array(
    z.discriminatedUnion('type', [
      z.strictObject({ type: z.literal('a'), inner: z.strictObject({ old, new: z.boolean().optional() }).transform((v) => v).optional() }),
      z.strictObject({ type: z.literal('b'), inner: z.unknown().optional() }),
    ]),
  ),
  top: old,
});

test('deprecatedKeys finds every deprecated key the value sets, through lists, tagged unions and transforms', () => {
  const found = deprecatedKeys(schema, { top: true, items: [{ type: 'a', inner: { old: false } }, { type: 'b', inner: { old: true } }, { type: 'a', inner: { new: true } }] });
  assert.deepEqual(found, [
    { path: ['top'], message: 'deprecated key: write `new` instead' },
    { path: ['items', 0, 'inner', 'old'], message: 'deprecated key: write `new` instead' },
  ]);
  assert.deepEqual(deprecatedKeys(schema, { items: [] }), []);
});

let dir: TempDir;
before(async () => {
  dir = await makeTempDir('deprecated');
});
after(() => dir.cleanup());

const withInsecure = (insecure: string, backupDir = '/tmp/caretaker-backups-never-written') => `backups:
  dir: ${backupDir}
  jobs:
    - name: cache
      type: redis
      url: "rediss://127.0.0.1:6380"
      schedule: "0 3 * * *"
      tls: { insecure: ${insecure} }
`;

test("a backup job's old tls.insecure still loads, as verify, with one warning naming the key and its line", async () => {
  const file = join(dir.path, 'old.yaml');
  await writeFile(file, withInsecure('true'));
  const config = await loadConfig(file, { modules, environment: { env: {} } });
  const job = (config.sections.get('backups') as { jobs: Array<{ tls: unknown }> }).jobs[0]!;
  assert.deepEqual(job.tls, { verify: false });
  assert.deepEqual(config.warnings, [
    { path: 'backups.jobs.0.tls.insecure', location: `${file}:8:24`, message: config.warnings[0]!.message },
  ]);
  assert.match(config.warnings[0]!.message, /^deprecated key: .*verify: false/);
});

test('check-config passes a deprecated key with exit 0 and prints the warning (and lists it with --json)', async () => {
  const file = join(dir.path, 'old-cli.yaml');
  await writeFile(file, withInsecure('false'));
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env: {} };
  assert.equal(await runCli(['check-config', '--config', file], modules, io), EXIT.ok);
  assert.match(err.join('\n'), new RegExp(`warning: ${file}:8:24: backups\\.jobs\\.0\\.tls\\.insecure: deprecated key`));
  out.length = 0;
  assert.equal(await runCli(['check-config', '--json', '--config', file], modules, io), EXIT.ok);
  const answer = JSON.parse(out.join('')) as { ok: boolean; warnings: Array<{ path: string }> };
  assert.deepEqual(answer.warnings.map((w) => w.path), ['backups.jobs.0.tls.insecure']);
});

test('a config without deprecated keys has no warnings', async () => {
  const file = join(dir.path, 'new.yaml');
  await writeFile(file, withInsecure('true').replace('insecure: true', 'verify: false'));
  const config = await loadConfig(file, { modules, environment: { env: {} } });
  assert.deepEqual(config.warnings, []);
});

test('the agent logs a deprecated key once per load: at boot and again at each reload', async () => {
  const t = await startTestAgent((d) => baseConfig(d, withInsecure('true', join(d, 'backups'))), modules);
  try {
    const warnings = () => t.logs.filter((line) => line.level === 'warn' && line.configKey === 'backups.jobs.0.tls.insecure');
    assert.equal(warnings().length, 1);
    assert.match(String(warnings()[0]!.msg), /^deprecated key: /);
    assert.match(String(warnings()[0]!.location), /caretaker\.yaml:\d+:\d+$/);
    assert.equal((await t.agent.reload()).ok, true);
    assert.equal(warnings().length, 2);
  } finally {
    await t.close();
  }
});
