import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { startRcloneRestic, type RcloneRestServer } from '../../harness/rclone.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { startSshd, type SshServer } from '../../harness/sshd.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { fillDatabase, snapshotDatabase } from './pg-data.js';
import { fillRedis, snapshotRedis } from './redis-data.js';
import { filesUnder, restic } from './remote-support.js';
import { startBackups, type Harnessed } from './support.js';

const DAILY = '0 3 * * *';
const PASSWORD = 'correct horse battery staple';
const PG_NEEDLE = 'needle-pg-5b1e0c7d';
const REDIS_NEEDLE = 'needle-redis-93af2e11';

/** Whether any file under `dir` contains `needle` in clear. */
async function anyFileContains(dir: string, needle: string): Promise<boolean> {
  for (const file of await filesUnder(dir)) if ((await readFile(file)).includes(needle)) return true;
  return false;
}

describe('off-site copies through restic (sftp: on sshd, rest: on rclone)', () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let redisScratch: RedisServer;
  let sshd: SshServer;
  let rest: RcloneRestServer;
  let dir: TempDir;
  let backups: Harnessed;
  let sftpRemote: Record<string, unknown>;

  before(async () => {
    [pg, redis, redisScratch, sshd, rest, dir] = await Promise.all([startPostgres(), startRedis(), startRedis(), startSshd(), startRcloneRestic(), makeTempDir('remote-int')]);
    await fillDatabase(pg, 'app', 100_000);
    await pg.psql(`INSERT INTO customers (name, email, created) VALUES ('${PG_NEEDLE}', 'needle@example.com', now())`, 'app');
    await pg.psql('CREATE DATABASE restored');
    const client = new Redis(redis.url);
    await fillRedis(client);
    await client.set('needle', REDIS_NEEDLE);
    client.disconnect();
    sftpRemote = { repository: sshd.repository('shared'), password: PASSWORD, init: true, options: { 'sftp.command': sshd.sshCommand } };
    backups = await startBackups({
      dir: dir.path,
      remote: sftpRemote,
      jobs: [
        { name: 'pg', type: 'postgres', url: pg.url.replace(/\/postgres$/, '/app'), schedule: DAILY },
        { name: 'redis', type: 'redis', url: redis.url, schedule: DAILY, remote: { repository: rest.repository('redis'), password: PASSWORD, init: true } },
        { name: 'wrong-password', type: 'files', paths: ['/etc/hostname'], schedule: DAILY, remote: { ...sftpRemote, password: 'not the password' } },
        { name: 'missing', type: 'files', paths: ['/etc/hostname'], schedule: DAILY, remote: { ...sftpRemote, repository: sshd.repository('never-made'), init: false } },
        { name: 'local-only', type: 'files', paths: ['/etc/hostname'], schedule: DAILY, remote: false },
      ],
    });
  });

  after(async () => {
    await backups?.dispose();
    await Promise.all([pg?.stop(), redis?.stop(), redisScratch?.stop(), sshd?.stop(), rest?.stop()]);
    await dir?.cleanup();
  });

  it('postgres to sftp: the verified dump lands encrypted, tagged, recorded in the manifest, the metrics and the listing', async () => {
    backups.runner.runNow('pg');
    await backups.settled();
    const job = backups.runner.job('pg');
    assert.equal(job.state, 'ok', JSON.stringify(job.lastRun));
    const remote = job.lastRun?.remote;
    assert.equal(remote?.result, 'success', JSON.stringify(remote));
    assert.match(remote?.snapshot ?? '', /^[0-9a-f]{8}$/);
    assert.ok((remote?.addedBytes ?? 0) > 0);
    assert.equal(job.backups[0]?.remoteSnapshot, remote?.snapshot);

    const manifest = JSON.parse(await readFile(join(dir.path, 'pg', `${job.latest}.json`), 'utf8'));
    assert.equal(manifest.remote.snapshot, remote?.snapshot);
    // -Z0 because restic compresses: the local dump holds the row in clear, the repository does not.
    assert.ok((await readFile(join(dir.path, 'pg', job.latest!))).includes(PG_NEEDLE), 'the local dump is uncompressed (-Z0)');
    assert.equal(await anyFileContains(join(sshd.dataDir, 'shared'), PG_NEEDLE), false);

    const snapshots = await restic(sftpRemote, ['snapshots', '--json']);
    const [snapshot] = JSON.parse(snapshots) as Array<{ tags: string[]; paths: string[] }>;
    assert.deepEqual(snapshot!.tags.sort(), ['job=pg', 'kind=postgres', `sha256=${manifest.sha256}`]);
    assert.equal(snapshot!.paths.length, 2, 'the dump and its manifest');

    const metrics = await backups.metricsText();
    assert.match(metrics, /caretaker_backup_remote_runs_total\{backup="pg",result="success"\} 1/);
    assert.match(metrics, /caretaker_backup_remote_added_bytes\{backup="pg"\} [1-9]/);
    assert.match(metrics, /caretaker_backup_remote_last_success_timestamp_seconds\{backup="pg"\} \d{10}/);
    assert.doesNotMatch(metrics, /caretaker_backup_remote_runs_total\{backup="local-only"/);

    const listed = await backups.cli(['list', 'pg'], { remote: true });
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, new RegExp(`${remote?.snapshot}.*${job.latest}`));
  });

  it('postgres: remote:latest restores into a fresh database identical to the source (count + md5)', async () => {
    const source = await snapshotDatabase(pg, 'app');
    assert.match(source.customers!, /^100001:/);
    const to = pg.url.replace(/\/postgres$/, '/restored');
    const result = await backups.cli(['restore', 'pg', 'remote:latest'], { yes: true, to });
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /restored remote:[0-9a-f]{8}/);
    assert.deepEqual(await snapshotDatabase(pg, 'restored'), source);
    // The fetched copy is gone; only the local backup and its manifest are in the job's folder.
    assert.equal((await readdir(join(dir.path, 'pg'))).length, 2);
  });

  it('redis to rest: lands encrypted, is listed, and remote:<snapshot> restores every key into a fresh server', async () => {
    backups.runner.runNow('redis');
    await backups.settled();
    const job = backups.runner.job('redis');
    assert.equal(job.lastRun?.remote?.result, 'success', JSON.stringify(job.lastRun));
    assert.equal(await anyFileContains(join(rest.dataDir, 'redis'), REDIS_NEEDLE), false);
    const listed = await backups.cli(['list', 'redis'], { remote: true });
    assert.match(listed.out, new RegExp(job.lastRun!.remote!.snapshot!));

    const result = await backups.cli(['restore', 'redis', `remote:${job.lastRun!.remote!.snapshot}`], { yes: true, to: redisScratch.url });
    assert.equal(result.code, 0, result.err);
    const [source, copy] = [new Redis(redis.url), new Redis(redisScratch.url)];
    try {
      assert.deepEqual(await snapshotRedis(copy), await snapshotRedis(source));
      assert.equal(await copy.get('needle'), REDIS_NEEDLE);
    } finally {
      source.disconnect();
      copy.disconnect();
    }
  });

  it('an unknown remote snapshot is a usage error naming the listing command', async () => {
    const result = await backups.cli(['restore', 'pg', 'remote:deadbeef'], { yes: true });
    assert.equal(result.code, 64);
    assert.match(result.err, /backups list pg --remote/);
  });

  it('a wrong repository password: clear error, the local backup kept, nothing re-initialised', async () => {
    const repo = join(sshd.dataDir, 'shared');
    const before = { config: await readFile(join(repo, 'config')), keys: await readdir(join(repo, 'keys')) };
    backups.runner.runNow('wrong-password');
    await backups.settled();
    const job = backups.runner.job('wrong-password');
    assert.equal(job.state, 'remote_failed');
    assert.equal(job.files, 1, 'the local backup stays');
    assert.match(job.lastRun?.remote?.message ?? '', /^local ok, remote failed: restic repository sftp:.*shared: wrong password .*check remote\.password/);
    assert.doesNotMatch(JSON.stringify(job), /not the password/);
    assert.deepEqual(await readFile(join(repo, 'config')), before.config);
    assert.deepEqual(await readdir(join(repo, 'keys')), before.keys);
    const overview = await backups.cli([]);
    assert.equal(overview.code, 1, overview.err);
    assert.match(overview.out + overview.err, /wrong-password: local ok, remote failed: .*wrong password/);
  });

  it('a missing repository without init: says so and how to create it', async () => {
    backups.runner.runNow('missing');
    await backups.settled();
    const message = backups.runner.job('missing').lastRun?.remote?.message ?? '';
    assert.match(message, /no restic repository at sftp:.*never-made .*restic init' or set remote\.init: true/);
  });

  it('sshd down when the run starts: local ok, remote failed with the cause, metric and condition; the next run sends it (down mid-upload: remote-faults)', async () => {
    await sshd.down();
    try {
      const run = backups.cli(['run', 'pg']);
      const result = await run;
      assert.equal(result.code, 1, result.out + result.err);
      assert.match(result.out + result.err, /backup 'pg': local ok, remote failed: .*(Connection refused|connection|ssh)/i);
      const job = backups.runner.job('pg');
      assert.equal(job.state, 'remote_failed');
      assert.equal(job.lastRun?.result, 'success');
      assert.ok(job.backups[0]?.verified && job.backups[0].remoteSnapshot === null);
      const firing = backups.test.conditions.firing().find((c) => c.key === 'backup:pg:remote');
      assert.ok(firing, 'backup:pg:remote fires');
      assert.match(firing.detail, /local ok, remote failed/);
      assert.match(await backups.metricsText(), /caretaker_backup_remote_runs_total\{backup="pg",result="failure"\} 1/);
      assert.equal(backups.runner.health().status, 'degraded');
    } finally {
      await sshd.up();
    }
    const again = await backups.cli(['run', 'pg']);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /off-site snapshot [0-9a-f]{8}/);
    assert.equal(backups.runner.job('pg').state, 'ok');
    assert.equal(backups.test.conditions.firing().find((c) => c.key === 'backup:pg:remote'), undefined);
  });
});
