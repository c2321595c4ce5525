import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { runDeployCommand } from '../../src/modules/certificates/deploy.js';
import { freePort } from '../harness/ports.js';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { spawnCaretaker } from '../helpers/spawn.js';

const EXEC_MODULE = fileURLToPath(new URL('../../src/agent/kit/exec.ts', import.meta.url));
const UNIT_CONTROL_MODULE = fileURLToPath(new URL('../../src/agent/kit/unit-control.ts', import.meta.url));

type ArgumentMatch = (arg: string) => boolean;

/** PIDs of the processes with an argument that matches, read from /proc as ps does. */
async function processesWith(match: ArgumentMatch): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').some(match)) found.push(Number(entry));
  }
  return found;
}

async function waitForProcess(match: ArgumentMatch, timeoutMs = 30_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await processesWith(match);
    if (pids.length > 0) return pids;
    if (Date.now() > deadline) throw new Error(`no such process within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** What still runs a moment after its parent went: the kernel takes a few ms to deliver the signals. */
async function survivors(match: ArgumentMatch, withinMs = 3000): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  let pids = await processesWith(match);
  while (pids.length > 0 && Date.now() < deadline) {
    await sleep(50);
    pids = await processesWith(match);
  }
  return pids;
}

/** Ends what a failed run left behind (processes this test started), so a regression does not leak them. */
function killLeftovers(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

describe('children die with their parent', () => {
  let dir: TempDir;
  before(async () => {
    dir = await makeTempDir('children');
  });
  after(() => dir.cleanup());

  /**
   * A CLI `backups verify` of a 1 TiB sparse file: sha256sum reads zeros for minutes. The CLI gets the
   * file's name, so only sha256sum has its full path among its arguments.
   */
  async function verifyOfEndlessFile(marker: string) {
    const backups = join(dir.path, marker);
    await mkdir(join(backups, 'pg'), { recursive: true });
    const file = join(backups, 'pg', `${marker}.dump`);
    const handle = await open(file, 'w');
    await handle.truncate(2 ** 40);
    await handle.close();
    const config = join(dir.path, `${marker}.yaml`);
    await writeFile(
      config,
      `admin: { listen: "127.0.0.1:${await freePort()}" }\n` +
        `backups: { dir: ${backups}, jobs: [{ name: pg, type: postgres, url: "postgres://app@127.0.0.1/app", schedule: "0 3 * * *" }] }\n`,
    );
    const cli = spawnCaretaker(['--config', config, 'backups', 'verify', 'pg', `${marker}.dump`]);
    const sha256sum: ArgumentMatch = (arg) => arg === file;
    const pids = await waitForProcess(sha256sum);
    return { cli, pids, sha256sum };
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`verify killed by ${signal} stops its sha256sum and exits 128 + the signal number`, async () => {
      const marker = `verify-${signal.toLowerCase()}-${randomBytes(4).toString('hex')}`;
      const { cli, pids, sha256sum } = await verifyOfEndlessFile(marker);
      try {
        const started = Date.now();
        cli.child.kill(signal);
        const exited = await cli.exited;
        assert.deepEqual(await survivors(sha256sum), [], `sha256sum (pid ${pids.join(', ')}) outlived the CLI`);
        assert.equal(exited.code, signal === 'SIGTERM' ? 143 : 130, cli.stderr());
        assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
      } finally {
        cli.child.kill('SIGKILL');
        killLeftovers(await processesWith(sha256sum));
      }
    });
  }

  it('verify killed by SIGKILL: the kernel kills its sha256sum (parent-death signal)', async () => {
    const marker = `verify-sigkill-${randomBytes(4).toString('hex')}`;
    const { cli, pids, sha256sum } = await verifyOfEndlessFile(marker);
    try {
      cli.child.kill('SIGKILL');
      assert.equal((await cli.exited).signal, 'SIGKILL');
      assert.deepEqual(await survivors(sha256sum), [], `sha256sum (pid ${pids.join(', ')}) outlived the CLI`);
    } finally {
      killLeftovers(await processesWith(sha256sum));
    }
  });

  describe('the agent', () => {
    let server: PostgresServer;
    before(async () => {
      server = await startPostgres();
    });
    after(() => server?.stop());

    it('killed by SIGKILL mid-pg_dump leaves no pg_dump', async () => {
      const database = `children_${randomBytes(4).toString('hex')}`;
      await server.psql(`CREATE DATABASE ${database}`);
      await server.psql('CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g', database);
      const url = server.url.replace(/\/postgres$/, `/${database}`);
      // pg_dump waits for this lock for as long as the test needs: mid-dump without depending on the table's size.
      const locker = new pg.Client({ connectionString: url });
      locker.on('error', () => undefined);
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
      const admin = await freePort();
      const config = join(dir.path, 'agent.yaml');
      await writeFile(
        config,
        `agent: { stateDir: ${dir.path}/state }\nadmin: { listen: "127.0.0.1:${admin}" }\n` +
          `metrics: { listen: "127.0.0.1:${await freePort()}", host: false }\n` +
          `backups: { dir: ${dir.path}/backups, jobs: [{ name: pg, type: postgres, url: "${url}", schedule: "0 3 * * *" }] }\n`,
      );
      // Backends show the database in their title too; only pg_dump has it in a --dbname= argument.
      const pgDump: ArgumentMatch = (arg) => arg.startsWith('--dbname=') && arg.endsWith(`/${database}`);
      const agent = spawnCaretaker(['run', '--config', config]);
      try {
        await agent.waitForLine((l) => l.msg === 'agent ready');
        assert.equal((await fetch(`http://127.0.0.1:${admin}/backups/pg/run`, { method: 'POST' })).status, 202);
        const pids = await waitForProcess(pgDump);
        const waiting = await server.psql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND datname = '${database}'`);
        assert.notEqual(waiting.trim(), '0', 'pg_dump is connected and waiting for the lock');
        agent.child.kill('SIGKILL');
        assert.equal((await agent.exited).signal, 'SIGKILL');
        assert.deepEqual(await survivors(pgDump), [], `pg_dump (pid ${pids.join(', ')}) outlived the agent`);
      } finally {
        agent.child.kill('SIGKILL');
        killLeftovers(await processesWith(pgDump));
        await locker.end().catch(() => undefined);
      }
    });
  });

  it('a process that exits while a tool runs takes the tool\'s whole group along', async () => {
    const marker = `${800 + Math.floor(Math.random() * 99)}.${randomBytes(2).readUInt16BE()}`;
    const sleeps: ArgumentMatch = (arg) => arg.includes(marker);
    // The kernel's parent-death signal ends the shell only; its sleeps (one ignoring SIGTERM) need the exit hook.
    const script =
      `import { spawnChild } from ${JSON.stringify(EXEC_MODULE)};\n` +
      "spawnChild('sh', ['-c', `trap '' TERM; sleep ${process.env.MARKER} & sleep ${process.env.MARKER}`], { stdio: 'ignore' });\n" +
      'setTimeout(() => process.exit(0), 300);\n';
    try {
      const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { stdio: 'inherit', env: { ...process.env, MARKER: marker } });
      await waitForProcess(sleeps);
      const [code] = (await once(parent, 'exit')) as [number | null];
      assert.equal(code, 0);
      assert.deepEqual(await survivors(sleeps, 1000), [], 'a sleep outlived the process that started it');
    } finally {
      killLeftovers(await processesWith(sleeps));
    }
  });

  it('a process killed by SIGKILL mid-hook takes the hook\'s grandchildren along', async () => {
    const marker = `${700 + Math.floor(Math.random() * 99)}.${randomBytes(2).readUInt16BE()}`;
    const sleeps: ArgumentMatch = (arg) => arg.includes(marker);
    // The parent-death signal alone would end the shell and orphan its sleeps. The marker goes by the
    // environment so the parent's own command line does not match.
    const script =
      `import { runShellCommand } from ${JSON.stringify(UNIT_CONTROL_MODULE)};\n` +
      'await runShellCommand(`sleep ${process.env.MARKER} & sleep ${process.env.MARKER}`, { timeoutMs: 60_000 });\n';
    try {
      const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { stdio: 'inherit', env: { ...process.env, MARKER: marker } });
      const exited = once(parent, 'exit');
      await waitForProcess(sleeps);
      await sleep(200);
      parent.kill('SIGKILL');
      await exited;
      assert.deepEqual(await survivors(sleeps, 2000), [], 'a sleep outlived the process that started the hook');
    } finally {
      killLeftovers(await processesWith(sleeps));
    }
  });

  it('a deploy command that hangs is ended with its whole process group at its timeout', async () => {
    // The shell and both sleeps (one a background grandchild) share the marker in their arguments.
    const marker = `${900 + Math.floor(Math.random() * 99)}.${randomBytes(2).readUInt16BE()}`;
    const sleeps: ArgumentMatch = (arg) => arg.includes(marker);
    const started = Date.now();
    try {
      const deploy = runDeployCommand(`sleep ${marker} & sleep ${marker}`, 300, new AbortController().signal);
      await waitForProcess(sleeps);
      // With only the shell killed, the sleeps keep its output open and the command never settles.
      const settled = Promise.race([deploy, sleep(5000).then(() => Promise.reject(new Error('the deploy command did not settle within 5 s')))]);
      await assert.rejects(settled, /timed out after 300 ms/);
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
      assert.deepEqual(await survivors(sleeps, 1000), [], 'a sleep outlived the deploy timeout');
    } finally {
      killLeftovers(await processesWith(sleeps));
    }
  });
});
