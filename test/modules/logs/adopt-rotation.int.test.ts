import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../../../src/agent/cli/index.js';
import { modules } from '../../../src/modules/index.js';
import { requireBinaries } from '../../harness/deps.js';
import { makeTempDir } from '../../harness/tmpdir.js';
import { auditNumberedLines, readAllLogs } from './line-audit.js';
import { makeFixture } from './setup.js';
import { ROTATIONS, rotateWhileWriting, startWriter, waitForFile } from './writer-run.js';

const run = promisify(execFile);

/** Names and inodes of a directory, to see whether logrotate touched anything. */
async function listing(dir: string): Promise<string[]> {
  return Promise.all((await readdir(dir)).sort().map(async (name) => `${name}:${(await stat(join(dir, name))).ino}`));
}

test('an adopted nginx-style block rotates under a writer with 0 lines lost, and logrotate -f no longer touches the files', async (t) => {
  requireBinaries(['logrotate']);
  const temp = await makeTempDir('adopt-rotation');
  t.after(() => temp.cleanup());
  const logs = join(temp.path, 'log');
  const confDir = join(temp.path, 'logrotate.d');
  await mkdir(logs, { mode: 0o755 });
  await mkdir(confDir);
  const conf = join(temp.path, 'logrotate.conf');
  await writeFile(conf, `weekly\nrotate 4\ncreate\ninclude ${confDir}\n`);
  // Debian's nginx file, with the writer's reopen signal where nginx has `invoke-rc.d nginx rotate`.
  await writeFile(
    join(confDir, 'app'),
    `${logs}/*.log {\n\tdaily\n\tmissingok\n\trotate 14\n\tcompress\n\tdelaycompress\n\tnotifempty\n\tcreate 0640 root root\n\tsharedscripts\n\tpostrotate\n\t\tkill -USR1 $(cat ${logs}/writer.pid)\n\tendscript\n}\n`,
  );

  const out: string[] = [];
  const code = await runCli(['adopt', 'logrotate', join(confDir, 'app'), '--logrotate-conf', conf], modules, { out: (s) => out.push(s), err: () => {}, env: { CARETAKER_CONFIG: '/nonexistent.yaml' } });
  assert.equal(code, 0);
  const section = (parseYaml(out.join('\n')) as { logs: Array<Record<string, unknown>> }).logs;
  assert.equal((section[0]!.reopen as { command: string }).command, `kill -USR1 $(cat ${logs}/writer.pid)`);

  const log = join(logs, 'app.log');
  const writer = startWriter(log, join(logs, 'writer.pid'));
  await waitForFile(join(logs, 'writer.pid'));
  const f = await makeFixture(() => section);
  t.after(() => f.cleanup());
  await f.rotator.start();
  await f.tick();
  let logrotateRuns = 0;
  const rotations = await rotateWhileWriting(writer, async () => {
    f.clock.advance(86_400_000);
    const outcome = await f.rotator.rotate(section[0]!.name as string);
    assert.equal(outcome.result, 'success', outcome.errors.join('; '));
    // logrotate forced on its own config between two of ours: with the file adopted it has nothing to do.
    const before = await listing(logs);
    await run('logrotate', ['-f', '-s', join(temp.path, 'logrotate.status'), conf]);
    logrotateRuns++;
    const afterRun = await listing(logs);
    assert.deepEqual(afterRun.filter((n) => !n.startsWith('app.log:')), before.filter((n) => !n.startsWith('app.log:')), 'logrotate renamed, created or removed nothing');
  });
  const { lines, reopens } = await writer.done;
  await f.tick();
  const audit = auditNumberedLines(await readAllLogs(logs, 'app.log'), lines);
  t.diagnostic(`adopted logrotate block: ${JSON.stringify({ ...audit, rotations, reopens, logrotateRuns })}`);
  assert.equal(rotations, ROTATIONS);
  assert.equal(reopens, rotations);
  assert.deepEqual({ lost: audit.lost, duplicated: audit.duplicated, garbled: audit.garbled }, { lost: 0, duplicated: 0, garbled: 0 });
  assert.ok((await readdir(logs)).some((n) => /^app\.log\.2\.gz$/.test(n)) && (await readdir(logs)).includes('app.log.1'), 'numbered, compressed after a delay, as logrotate named them');
});
