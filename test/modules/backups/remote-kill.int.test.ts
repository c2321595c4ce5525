import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startRcloneRestic, type RcloneRestServer } from '../../harness/rclone.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { bytesUnder, restic } from './remote-support.js';
import { startBackups, waitFor, type Harnessed } from './support.js';

const DAILY = '0 3 * * *';
const PASSWORD = 'kill-trial password 7d2c';
const TRIALS = 15;

/** restic processes whose command line holds `marker` (a trial's own cache dir), by pid; a zombie has no command line. */
async function resticsWith(marker: string): Promise<Array<{ pid: number; argv: string[] }>> {
  const found = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = await readFile(`/proc/${name}/cmdline`, 'utf8').then((t) => t.split('\0').filter(Boolean), () => []);
    if (argv.some((a) => a.includes(marker)) && argv.some((a) => a.endsWith('restic'))) found.push({ pid: Number(name), argv });
  }
  return found;
}

/** Whether a process is gone from the process table, a zombie's entry too. */
const reaped = (pid: number) => access(`/proc/${pid}`).then(() => false, () => true);

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

// rest: (rclone serve restic) rather than sftp: each restic command opens its own ssh connection, which at
// 15 trials of two runs costs more than this file's time; a killed sftp upload is remote-faults' frozen test.
describe('off-site faults: the agent killed during restic backup', () => {
  let rest: RcloneRestServer;
  let tmp: TempDir;
  let next: Harnessed | undefined;

  before(async () => {
    [rest, tmp] = await Promise.all([startRcloneRestic(), makeTempDir('remote-kill')]);
  });

  after(async () => {
    await next?.dispose();
    await rest?.stop();
    await tmp?.cleanup();
  });

  it(`${TRIALS} trials: each next run succeeds and leaves no lock (the stale one removed), restic check (an exclusive lock) passes at the end`, async () => {
    const data = join(tmp.path, 'data');
    await mkdir(data);
    const repo = join(rest.dataDir, 'kill');
    const remote = { repository: rest.repository('kill'), password: PASSWORD, init: true };
    const job = { name: 'kill', type: 'files', paths: [data], schedule: DAILY };
    // The killed agents upload slowly (512 KiB take 8 s), so the kill lands mid-upload; the next run, in this process, at full speed.
    const killed = { dir: join(tmp.path, 'killed'), remote: { ...remote, limitUpload: '64KiB' }, jobs: [job] };
    const backups = await startBackups({ dir: join(tmp.path, 'next'), remote, jobs: [job] });
    next = backups;
    const locks = () => readdir(join(repo, 'locks')).catch(() => []);
    /** A killed trial's agent, loaded and waiting for its go: the next one loads while the last kill is checked. */
    const agentFor = (trial: number) => {
      const cacheDir = join(tmp.path, `cache-${trial}`);
      const config = { ...killed, remote: { ...killed.remote, cacheDir } };
      const stateDir = join(tmp.path, `state-${trial}`);
      const child = spawn(process.execPath, ['--import', 'tsx', new URL('./kill-target.ts', import.meta.url).pathname, JSON.stringify(config), 'kill', 'on-go'], {
        stdio: ['pipe', 'ignore', 'ignore'],
        env: { ...process.env, KILL_TARGET_STATE_DIR: stateDir },
      });
      return { child, cacheDir };
    };
    let agent = agentFor(0);
    let staleLocksSeen = 0;
    try {
      for (let trial = 0; trial < TRIALS; trial++) {
        // New random bytes each trial: nothing deduplicates against what the previous runs stored.
        await writeFile(join(data, 'blob.bin'), randomBytes(512 * 1024));
        const stored = await bytesUnder(join(repo, 'data'));
        const { child, cacheDir } = agent;
        child.stdin!.write('go\n');
        const seen = new Set<number>();
        try {
          // Polled at 5 Hz, not waitFor's 40: each look reads every process's command line and the repository's 256 data dirs.
          await waitFor(`trial ${trial}: restic backup to upload`, async () => {
            await sleep(200);
            const running = (await resticsWith(cacheDir)).filter((p) => p.argv.includes('backup'));
            for (const p of running) seen.add(p.pid);
            for (const p of running) assert.ok(!p.argv.join(' ').includes(PASSWORD), 'the password is never in restic argv');
            return running.length > 0 && (await bytesUnder(join(repo, 'data'))) > stored;
          }, 60_000);
          await sleep(Math.floor(Math.random() * 500));
        } finally {
          // kill -9 of the whole unit, as systemd's KillMode=control-group does: restic, then the agent. restic
          // first, so its sh reaps it: orphaned by a dying sh it would stay a zombie until the init process
          // reaps it (about a second here), and a zombie's pid answers kill(pid, 0), so restic unlock would
          // still take its lock for a live one's.
          for (const pid of seen) kill(pid);
          await waitFor(`trial ${trial}: restic to be reaped`, async () => (await Promise.all([...seen].map(reaped))).every(Boolean), 10_000).finally(() => child.kill('SIGKILL'));
        }
        await waitFor(`trial ${trial}: the agent's restics to be gone`, async () => (await resticsWith(cacheDir)).length === 0, 10_000);
        if ((await locks()).length > 0) staleLocksSeen++;
        if (trial + 1 < TRIALS) agent = agentFor(trial + 1);

        backups.runner.runNow('kill');
        await backups.settled();
        const last = backups.runner.job('kill').lastRun;
        assert.equal(last?.result, 'success', `trial ${trial}: ${JSON.stringify(last)}`);
        assert.equal(last?.remote?.result, 'success', `trial ${trial}: ${JSON.stringify(last?.remote)}`);
        assert.deepEqual(await locks(), [], `trial ${trial}: no lock left after the next run`);
      }
    } finally {
      agent.child.kill('SIGKILL');
    }
    assert.ok(staleLocksSeen >= TRIALS / 2, `only ${staleLocksSeen} of ${TRIALS} killed runs left a lock behind: the kills missed the upload`);
    await restic(remote, ['check']);
  });
});
