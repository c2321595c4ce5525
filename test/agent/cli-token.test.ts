// `caretaker reload` as systemd's ExecReload= runs it: the admin token is a ${credential:} reference and
// the unit's CREDENTIALS_DIRECTORY holds it.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../../src/agent/cli/index.js';
import { EXIT } from '../../src/agent/kit/cli.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { widgets } from '../helpers/widgets-module.js';

const TOKEN = 'a-token-of-sixteen-or-more';
let t: TestAgent;
let credentials: string;

before(async () => {
  credentials = await mkdtemp(join(tmpdir(), 'caretaker-creds-'));
  await writeFile(join(credentials, 'admin-token'), `${TOKEN}\n`, { mode: 0o600 });
  process.env.CREDENTIALS_DIRECTORY = credentials;
  t = await startTestAgent(
    (dir) => `agent: { stateDir: ${join(dir, 'state')} }\nadmin: { listen: "127.0.0.1:0", token: "\${credential:admin-token}" }\nmetrics: { listen: "127.0.0.1:0", host: false }\n`,
    [widgets],
  );
});
after(async () => {
  await t?.close();
  await rm(credentials, { recursive: true, force: true });
});

async function cli(args: string[], env: NodeJS.ProcessEnv) {
  const err: string[] = [];
  const code = await runCli(args, [widgets], { out: () => undefined, err: (s) => err.push(s), env });
  return { code, err: err.join('\n') };
}

test('reload finds a ${credential:} admin token in CREDENTIALS_DIRECTORY', async () => {
  const args = ['reload', '--url', t.adminAddress, '--config', t.configPath];
  assert.equal((await cli(args, { CREDENTIALS_DIRECTORY: credentials })).code, EXIT.ok);
  const without = await cli(args, {});
  assert.equal(without.code, EXIT.failure);
  assert.match(without.err, /token/i);
  assert.doesNotMatch(without.err, new RegExp(TOKEN));
});
