import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { runCommand } from '../../harness/process.js';
import { startRcloneRestic, type RcloneRestServer } from '../../harness/rclone.js';
import { startSshd, type SshServer } from '../../harness/sshd.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { restic } from './remote-support.js';
import { startBackups, waitFor } from './support.js';

const DAILY = '0 3 * * *';
const PASSWORD = 'kill-trial password 7d2c';

/** Processes whose command line holds `marker` (a trial's own cache dir), by pid. */
async function processesWith(marker: string): Promise<Array<{ pid: number; argv: string[] }>> {
  const found = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = await readFile(`/proc/${name}/cmdline`, 'utf8').then((t) => t.split('\0').filter(Boolean), () => []);
    if (argv.some((a) => a.includes(marker)) && argv.some((a) => a.endsWith('restic'))) found.push({ pid: Number(name), argv });
  }
  return found;
}

describe('off-site faults: killed runs, a full cache', () => {
  let sshd: SshServer;
  let rest: RcloneRestServer;
  let tmp: TempDir;

  before(async () => {
    [sshd, rest, tmp] = await Promise.all([startSshd(), startRcloneRestic(), makeTempDir('remote-faults')]);
  });

  after(async () => {
    await Promise.all([sshd?.stop(), rest?.stop()]);
    await tmp?.cleanup();
  });

  it('agent killed during restic backup (up to 8 trials within 40 s): the next run succeeds, no stale lock is left, restic check passes', async () => {
    const data = join(tmp.path, 'data');
    await mkdir(data);
    // Random bytes: nothing deduplicates, so each trial's upload takes seconds at the limit below.
    await writeFile(join(data, 'blob.bin'), randomBytes(8 * 1024 * 1024));
    const remote = { repository: sshd.repository('kill'), password: PASSWORD, init: true, limitUpload: '2MiB', options: { 'sftp.command': sshd.sshCommand }, retention: { keepLast: 3 } };
    const config = { dir: join(tmp.path, 'backups'), remote, jobs: [{ name: 'kill', type: 'files', paths: [data], schedule: DAILY }] };
    // The whole file must stay within the suite's 180 s per file while other files share the two cores.
    const deadline = Date.now() + 40_000;
    let trials = 0;
    let staleLocksSeen = 0;
    for (; trials < 8 && Date.now() < deadline; trials++) {
      const cacheDir = join(tmp.path, `cache-${trials}`);
      const trialConfig = { ...config, remote: { ...remote, cacheDir } };
      const child = spawn(process.execPath, ['--import', 'tsx', new URL('./kill-target.ts', import.meta.url).pathname, JSON.stringify(trialConfig), 'kill'], { stdio: 'ignore' });
      try {
        let running: Array<{ pid: number; argv: string[] }> = [];
        await waitFor('restic backup to start', async () => {
          running = (await processesWith(cacheDir)).filter((p) => p.argv.includes('backup'));
          return running.length > 0;
        }, 60_000);
        for (const p of running) assert.ok(!p.argv.join(' ').includes(PASSWORD), 'the password is never in restic argv');
        await sleep(200 + Math.floor(Math.random() * 1500));
      } finally {
        child.kill('SIGKILL');
      }
      await waitFor('restic to die with the agent', async () => (await processesWith(cacheDir)).length === 0, 10_000);
      const locks = (await restic(remote, ['list', 'locks', '--no-lock'])).trim();
      if (locks) staleLocksSeen++;
    }
    assert.ok(trials >= 3, `only ${trials} trials within the time box`);
    assert.ok(staleLocksSeen > 0, 'at least one killed run left its lock behind');

    const backups = await startBackups(config);
    try {
      backups.runner.runNow('kill');
      await backups.settled();
      const job = backups.runner.job('kill');
      assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
      assert.equal(job.lastRun?.remote?.result, 'success');
    } finally {
      await backups.dispose();
    }
    assert.equal((await restic(remote, ['list', 'locks', '--no-lock'])).trim(), '', 'no lock left');
    await restic(remote, ['check']);
  });

  it('the restic cache dir on a full filesystem: a clear error, the local backup kept', async () => {
    assert.equal(process.getuid?.(), 0, 'mounting the small tmpfs needs root (the tests run as root)');
    const cacheDir = join(tmp.path, 'full-cache');
    await mkdir(cacheDir);
    await runCommand('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', cacheDir]);
    try {
      await runCommand('dd', ['if=/dev/zero', `of=${join(cacheDir, 'fill')}`, 'bs=64k']).catch(() => undefined);
      const remote = { repository: rest.repository('full'), password: PASSWORD, init: true, cacheDir };
      const backups = await startBackups({ dir: join(tmp.path, 'full-backups'), remote, jobs: [{ name: 'full', type: 'files', paths: ['/etc/hostname'], schedule: DAILY }] });
      try {
        backups.runner.runNow('full');
        await backups.settled();
        const job = backups.runner.job('full');
        assert.equal(job.state, 'remote_failed');
        assert.equal(job.files, 1);
        assert.match(job.lastRun?.remote?.message ?? '', new RegExp(`local ok, remote failed: restic cache dir ${cacheDir} is on a full filesystem .*set remote\\.cacheDir`));
      } finally {
        await backups.dispose();
      }
    } finally {
      await runCommand('umount', [cacheDir]);
    }
  });
});
