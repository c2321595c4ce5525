import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { StatusAnswer } from '../../../src/agent/admin/answers.js';
import { runCli } from '../../../src/agent/cli/index.js';
import { formatStatus } from '../../../src/agent/cli/output.js';
import { modules } from '../../../src/modules/index.js';
import { logs } from '../../../src/modules/logs/index.js';
import { Rotator } from '../../../src/modules/logs/rotator.js';
import { baseConfig, startTestAgent } from '../../helpers/agent.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { makeFixture } from './setup.js';
import { stage } from './logrotate-oracle.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/logrotate');

/** An /etc/logrotate.conf under `root` including its logrotate.d with Debian's nginx file, re-rooted. */
async function logrotateWithNginx(root: string): Promise<{ conf: string; nginx: string }> {
  await stage(join(FIXTURES, 'debian'), join(root, 'deb'));
  await mkdir(join(root, 'etc/logrotate.d'), { recursive: true });
  const nginx = join(root, 'etc/logrotate.d/nginx');
  await writeFile(nginx, await readFile(join(root, 'deb/etc/nginx'), 'utf8'));
  const conf = join(root, 'etc/logrotate.conf');
  await writeFile(conf, `weekly\nrotate 4\ncreate\ninclude ${join(root, 'etc/logrotate.d')}\n`);
  return { conf, nginx };
}

async function adopt(conf: string, file: string): Promise<number> {
  return runCli(['adopt', 'logrotate', file, '--logrotate-conf', conf], modules, { out: () => {}, err: () => {}, env: { CARETAKER_CONFIG: '/nonexistent.yaml' } });
}

describe('conflicts with logrotate', () => {
  let temp: TempDir;
  before(async () => {
    temp = await makeTempDir('logrotate-conflicts');
  });
  after(async () => temp.cleanup());

  test('a logs entry for paths an active logrotate file rotates: warning in the log, /status, caretaker status, metric 1; after adopt 0', async () => {
    const root = join(temp.path, 'agent');
    const { conf, nginx } = await logrotateWithNginx(root);
    const logDir = join(root, 'deb/var/log/nginx');
    await mkdir(logDir, { recursive: true });
    const withLogrotate = { ...logs, create: (ctx: Parameters<typeof logs.create>[0], config: Parameters<typeof logs.create>[1], metrics: Parameters<typeof logs.create>[2]) => new Rotator(ctx, config, metrics, { logrotateConf: conf }) };
    const section = (keep: number) => `logs:\n  - { name: nginx, paths: ["${logDir}/*.log"], rotate: { every: daily }, keep: ${keep}, missingOk: true }\n`;
    const t = await startTestAgent((dir) => baseConfig(dir, section(14)), [withLogrotate]);
    try {
      const status = (await (await fetch(t.adminUrl('/status'))).json()) as StatusAnswer;
      const fix = `caretaker adopt logrotate ${nginx}`;
      assert.deepEqual(status.conflicts, [{ module: 'logs', kind: 'logrotate', item: 'nginx', detail: `log set nginx: ${logDir}/*.log is also rotated by logrotate (${nginx}:1: ${logDir}/*.log)`, fix }]);
      assert.match(formatStatus(status), new RegExp(`^conflict: logs nginx: .*; fix: ${fix.replace(/[.*]/g, '\\$&')}$`, 'm'));
      assert.match(await (await fetch(t.metricsUrl())).text(), /^caretaker_conflicts\{module="logs",kind="logrotate"\} 1$/m);
      assert.ok(t.logs.some((l) => l.level === 'warn' && String(l.msg).startsWith('conflict: log set nginx') && l.fix === fix));

      assert.equal(await adopt(conf, nginx), 0);
      await t.writeConfig(baseConfig(t.dir, section(15)));
      await t.agent.reload();
      const after = (await (await fetch(t.adminUrl('/status'))).json()) as StatusAnswer;
      assert.deepEqual(after.conflicts, []);
      await sleep(1100); // /metrics caches its render for a second
      assert.match(await (await fetch(t.metricsUrl())).text(), /^caretaker_conflicts\{module="logs",kind="logrotate"\} 0$/m);
    } finally {
      await t.close();
    }
  });

  test('the minute check sees an adopt without a reload; a literal path inside a logrotate glob conflicts too; an unrelated path does not', async () => {
    const root = join(temp.path, 'module');
    const { conf, nginx } = await logrotateWithNginx(root);
    const logDir = join(root, 'deb/var/log/nginx');
    const f = await makeFixture(() => [
      { name: 'access', paths: [`${logDir}/access.log`], rotate: { every: 'daily' }, missingOk: true },
      { name: 'other', paths: [`${logDir}/access.txt`], rotate: { every: 'daily' }, missingOk: true },
    ], undefined, { logrotateConf: conf });
    try {
      await f.rotator.start();
      await f.tick(); // the check at start, so the next tick is one that begins after the adopt
      assert.deepEqual(f.tc.conflicts.list().map((c) => [c.item, c.fix]), [['access', `caretaker adopt logrotate ${nginx}`]]);
      assert.equal(await adopt(conf, nginx), 0);
      await f.tick();
      assert.deepEqual(f.tc.conflicts.list(), []);
      assert.deepEqual(f.tc.conflicts.counts(), [['logs', 'logrotate', 0]]);
    } finally {
      await f.cleanup();
    }
  });

  test('no logrotate installed is no conflict and no warning', async () => {
    const f = await makeFixture((dir) => [{ name: 'a', paths: [`${dir}/a.log`], rotate: { every: 'daily' }, missingOk: true }], undefined, { logrotateConf: join(temp.path, 'absent/logrotate.conf') });
    try {
      await f.rotator.start();
      assert.deepEqual(f.tc.conflicts.counts(), [['logs', 'logrotate', 0]]);
    } finally {
      await f.cleanup();
    }
  });
});
