import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { Agent } from '../../src/agent/agent.js';
import { createRootLogger, SecretSet } from '../../src/agent/logger.js';
import { SdNotify } from '../../src/agent/sd-notify.js';
import { freePort } from '../harness/ports.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { baseConfig } from '../helpers/agent.js';
import { spawnCaretaker } from '../helpers/spawn.js';
import { widgets } from '../helpers/widgets-module.js';

let tmp: TempDir;
before(async () => {
  tmp = await makeTempDir('boot');
});
after(() => tmp.cleanup());

test('a stateDir that cannot be created fails the start with exit 1 naming it, never "agent ready"', async () => {
  const blocker = join(tmp.path, 'a-file');
  await writeFile(blocker, '');
  const [admin, metrics] = [await freePort(), await freePort()];
  const config = join(tmp.path, 'statedir.yaml');
  await writeFile(
    config,
    `agent: { stateDir: ${blocker}/state }\nadmin: { listen: "127.0.0.1:${admin}" }\nmetrics: { listen: "127.0.0.1:${metrics}", host: false }\n` +
      `probes:\n  - { name: api, type: tcp, address: "127.0.0.1:${admin}", interval: 1h }\n`,
  );
  const agent = spawnCaretaker(['run', '--config', config]);
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([agent.exited, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 30_000)))]);
  clearTimeout(timer);
  if (!exit) agent.child.kill('SIGTERM');
  assert.ok(exit, `still running after 30 s; it said: ${agent.lines.map((line) => line.msg).join(', ')}`);
  const { code } = exit;
  assert.equal(code, 1, agent.stderr());
  assert.match(agent.stderr(), new RegExp(`cannot start: cannot create agent\\.stateDir ${blocker}/state: ENOTDIR`));
  assert.ok(!agent.lines.some((line) => line.msg === 'agent ready'), 'said ready');
});

async function bootWith(yaml: string): Promise<{ agent: Agent; booted: Promise<void> }> {
  const configPath = join(tmp.path, `widgets-${Math.random().toString(16).slice(2)}.yaml`);
  await writeFile(configPath, baseConfig(tmp.path, yaml));
  const secrets = new SecretSet();
  const agent = new Agent({
    configPath,
    modules: [widgets],
    log: createRootLogger({ secrets, level: 'silent' }),
    secrets,
    version: '0.0.0-test',
    notify: new SdNotify(pino({ level: 'silent' }), {}),
  });
  return { agent, booted: agent.boot() };
}

test('a start where no configured module could start is a failed start, with each module cause', async () => {
  const { agent, booted } = await bootWith('widgets:\n  - { name: a, failStart: true }\n');
  try {
    await assert.rejects(booted, /no configured module could start: widgets: widget refused to start: ECONNREFUSED 127\.0\.0\.1:1/);
  } finally {
    await agent.shutdown();
  }
});

test('an agent with no module configured starts (it serves metrics and the API)', async () => {
  const { agent, booted } = await bootWith('');
  try {
    await booted;
  } finally {
    await agent.shutdown();
  }
});
