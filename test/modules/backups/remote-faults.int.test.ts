import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCommand } from '../../harness/process.js';
import { startRcloneRestic, type RcloneRestServer } from '../../harness/rclone.js';
import { startSshd, type SshServer } from '../../harness/sshd.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { bytesUnder, restic } from './remote-support.js';
import { startBackups, waitFor } from './support.js';

const DAILY = '0 3 * * *';
const PASSWORD = 'faults password 7d2c';

describe('off-site faults: the remote down or hung mid-upload, a full cache', () => {
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

  /** A files job of random bytes (nothing deduplicates) sent at 1 MiB/s, so its upload lasts seconds; returns the job's config. */
  async function uploadJob(name: string, extra: { options?: Record<string, string>; timeout?: string } = {}) {
    const data = join(tmp.path, `${name}-data`);
    await mkdir(data);
    await writeFile(join(data, 'blob.bin'), randomBytes(8 * 1024 * 1024));
    const remote = { repository: sshd.repository(name), password: PASSWORD, init: true, limitUpload: '1MiB', options: extra.options ?? { 'sftp.command': sshd.sshCommand } };
    const job = { name, type: 'files', paths: [data], schedule: DAILY, ...(extra.timeout ? { timeout: extra.timeout } : {}) };
    return { remote, config: { dir: join(tmp.path, `${name}-backups`), remote, jobs: [job] }, repo: join(sshd.dataDir, name) };
  }

  /** Resolves once restic has written part of the upload into the repository's data/ (it holds nothing after init). */
  const uploading = (repo: string) => waitFor('restic backup to upload data', async () => (await bytesUnder(join(repo, 'data'))) > 0, 60_000);

  it('sshd stopped while restic backup uploads: local ok, remote failed with the cause (API, CLI exit 1, metric, condition); the next run sends it', async () => {
    const { remote, config, repo } = await uploadJob('down');
    const backups = await startBackups(config);
    try {
      const started = Date.now();
      const run = backups.cli(['run', 'down']);
      try {
        await uploading(repo);
        await sshd.down();
        const result = await run;
        assert.ok(Date.now() - started < 60_000, `the run ended ${Date.now() - started} ms after it started`);
        assert.equal(result.code, 1, result.out + result.err);
        assert.match(result.out + result.err, /backup 'down': local ok, remote failed: restic backup on sftp:\S+ failed: .*ssh command exited.*\(local backup \S+ .*kept\)/);
        // restic's Fatal: message, not the cleanup noise it prints after it.
        assert.doesNotMatch(result.out, /cleanup handler/);

        const job = backups.runner.job('down');
        assert.equal(job.state, 'remote_failed');
        assert.equal(job.lastRun?.result, 'success');
        assert.equal(job.files, 1);
        assert.ok(job.backups[0]?.verified, 'the local backup is verified');
        assert.equal(job.backups[0]?.remoteSnapshot, null);
        const detail = (await backups.app.inject({ method: 'GET', url: '/backups/down' })).json() as { lastRun: { remote: { result: string; message: string } } };
        assert.equal(detail.lastRun.remote.result, 'failure');
        assert.match(detail.lastRun.remote.message, /^local ok, remote failed: restic backup on sftp:\S+ failed: /);
        assert.match(await backups.metricsText(), /caretaker_backup_remote_runs_total\{backup="down",result="failure"\} 1/);
        const firing = backups.test.conditions.firing().find((c) => c.key === 'backup:down:remote');
        assert.ok(firing, 'backup:down:remote fires');
        assert.match(firing.detail, /local ok, remote failed: restic backup/);
      } finally {
        await run.catch(() => undefined);
        await sshd.up();
      }

      const again = await backups.cli(['run', 'down']);
      assert.equal(again.code, 0, again.out + again.err);
      const job = backups.runner.job('down');
      assert.equal(job.state, 'ok');
      const snapshots = JSON.parse(await restic(remote, ['snapshots', '--json', '--tag', 'job=down'])) as Array<{ short_id: string }>;
      assert.deepEqual(snapshots.map((s) => s.short_id), [job.lastRun?.remote?.snapshot]);
      assert.equal(backups.test.conditions.firing().find((c) => c.key === 'backup:down:remote'), undefined, 'the condition is resolved');
      assert.match(await backups.metricsText(), /caretaker_backup_remote_runs_total\{backup="down",result="success"\} 1/);
      assert.equal((await restic(remote, ['list', 'locks', '--no-lock'])).trim(), '', 'no lock left');
    } finally {
      await backups.dispose();
    }
  });

  it('the remote stops answering mid-upload (sessions frozen, ssh without keepalives): the run ends at the job timeout and says so; the next run clears the stale lock', async () => {
    // restic's default `ssh host -s sftp` has no keepalives: only the run's own timeout ends the wait.
    const plainSsh = sshd.sshCommand.replace(/-o ServerAlive\S+ /g, '');
    const { remote, config, repo } = await uploadJob('frozen', { options: { 'sftp.command': plainSsh }, timeout: '25s' });
    const backups = await startBackups(config);
    try {
      const started = Date.now();
      const run = backups.cli(['run', 'frozen']);
      try {
        await uploading(repo);
        await sshd.freeze();
        const result = await run;
        const took = Date.now() - started;
        assert.ok(took < 40_000, `the run ended ${took} ms after it started (timeout 25 s)`);
        assert.equal(result.code, 1, result.out + result.err);
        assert.match(result.out + result.err, /backup 'frozen': local ok, remote failed: restic backup on sftp:\S+ failed: timed out after \d+ s and was stopped; the repository may have stopped answering .*raise the job's timeout/);
        assert.equal(backups.runner.job('frozen').files, 1, 'the local backup is kept');
      } finally {
        await run.catch(() => undefined);
        await sshd.down();
        await sshd.up();
      }
      assert.notEqual((await restic(remote, ['list', 'locks', '--no-lock'])).trim(), '', 'the killed restic left its lock');
      const again = await backups.cli(['run', 'frozen']);
      assert.equal(again.code, 0, again.out + again.err);
      assert.equal((await restic(remote, ['list', 'locks', '--no-lock'])).trim(), '', 'no lock left');
    } finally {
      await backups.dispose();
    }
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
