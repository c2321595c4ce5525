import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { configJsonSchema } from '../../src/agent/config/json-schema.js';
import { loadConfig } from '../../src/agent/config/load.js';
import { runCli } from '../../src/agent/cli/index.js';
import { EXIT } from '../../src/agent/kit/cli.js';
import { ConfigError } from '../../src/agent/kit/errors.js';
import { modules } from '../../src/modules/index.js';

const fixtures = new URL('../fixtures/config/', import.meta.url).pathname;

async function checkConfig(file: string, env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['check-config', '--config', file], modules, { out: (t) => out.push(t), err: (t) => err.push(t), env });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const invalid = (await readdir(join(fixtures, 'invalid'))).filter((f) => f.endsWith('.yaml')).sort();

test('the broken-config corpus is large enough', () => {
  assert.ok(invalid.length >= 25, `only ${invalid.length} fixtures`);
});

for (const name of invalid) {
  test(`check-config refuses ${name} with exit 78 and names the key`, async () => {
    const file = join(fixtures, 'invalid', name);
    const expectations = (await readFile(file, 'utf8'))
      .split('\n')
      .filter((line) => line.startsWith('# expect: '))
      .map((line) => line.slice('# expect: '.length));
    assert.ok(expectations.length > 0, 'fixture has no # expect: line');
    const result = await checkConfig(file);
    assert.equal(result.code, EXIT.config);
    for (const expected of expectations) assert.ok(result.err.includes(expected), `expected "${expected}" in:\n${result.err}`);
    assert.doesNotMatch(result.err, /^\s+at /m, 'no stack traces');
    assert.match(result.err, new RegExp(`${name.replace('.', '\\.')}:\\d+:\\d+: |${name.replace('.', '\\.')}: `), 'issues point at file:line:col');
  });
}

test('valid configs pass check-config with exit 0', async () => {
  for (const name of (await readdir(join(fixtures, 'valid'))).filter((f) => f.endsWith('.yaml'))) {
    const result = await checkConfig(join(fixtures, 'valid', name), { CARETAKER_FIXTURE_TOKEN: 'a-token-of-enough-length' });
    assert.equal(result.code, EXIT.ok, `${name}: ${result.err}`);
  }
});

test('the shipped examples are valid configs', async () => {
  for (const name of ['caretaker.yaml', 'full.yaml', 'dev.yaml']) {
    const result = await checkConfig(new URL(`../../examples/${name}`, import.meta.url).pathname);
    assert.equal(result.code, EXIT.ok, `${name}: ${result.err}`);
  }
});

test('check-config --json lists the issues for scripts', async () => {
  const out: string[] = [];
  const code = await runCli(['check-config', '--json', '--config', join(fixtures, 'invalid', 'several-problems.yaml')], modules, {
    out: (t) => out.push(t),
    err: () => undefined,
    env: {},
  });
  assert.equal(code, EXIT.config);
  const answer = JSON.parse(out.join('')) as { ok: boolean; issues: Array<{ path: string }> };
  assert.equal(answer.ok, false);
  assert.deepEqual(answer.issues.map((i) => i.path).sort(), ['agent.logLevel', 'metrics.listen']);
});

test('a missing config file is a config error naming the file', async () => {
  const result = await checkConfig('/nonexistent/caretaker.yaml');
  assert.equal(result.code, EXIT.config);
  assert.match(result.err, /cannot read config file \/nonexistent\/caretaker\.yaml: ENOENT/);
});

test('references expand from env, file and credentials and are remembered as secrets', async () => {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'caretaker-expand-'));
  await writeFile(join(dir, 'token'), 'from-a-file-0123456789\n');
  await writeFile(join(dir, 'cred'), 'from-a-credential-0123');
  const file = join(dir, 'c.yaml');
  await writeFile(file, `admin: { token: "\${file:${join(dir, 'token')}}" }\nagent: { stateDir: "/x/\${env:SUBDIR}/$\${literal}" }\n`);
  const config = await loadConfig(file, { modules, environment: { env: { SUBDIR: 'sub' }, credentialsDirectory: dir } });
  assert.equal(config.admin.token, 'from-a-file-0123456789');
  assert.equal(config.agent.stateDir, '/x/sub/${literal}');
  assert.deepEqual(config.secrets.sort(), ['from-a-file-0123456789', 'sub']);
  await writeFile(file, 'admin: { token: "${credential:cred}" }\n');
  assert.equal((await loadConfig(file, { modules, environment: { env: {}, credentialsDirectory: dir } })).admin.token, 'from-a-credential-0123');
  await writeFile(file, 'admin: { token: "${credential:../token}" }\n');
  await assert.rejects(loadConfig(file, { modules, environment: { env: {}, credentialsDirectory: dir } }), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /admin\.token: '\.\.\/token' is not a valid credential name/);
    return true;
  });
});

test('docs/caretaker.schema.json is up to date (npm run schema)', async () => {
  const shipped = await readFile(new URL('../../docs/caretaker.schema.json', import.meta.url), 'utf8');
  assert.equal(shipped, configJsonSchema(modules), 'stale: run `npm run schema` and commit docs/caretaker.schema.json');
});
