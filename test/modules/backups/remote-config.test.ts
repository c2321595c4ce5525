import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../../src/modules/backups/config.js';
import { remoteOf } from '../../../src/modules/backups/remote/config.js';
import { dumpSettingsFor } from '../../../src/modules/backups/remote/offsite.js';
import { describeRepository } from '../../../src/modules/backups/remote/restic.js';

function issues(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const remote = { repository: 'sftp:backup@host:/srv/restic', password: 'a-password' };
const pgJob = { name: 'pg', type: 'postgres', url: 'postgres://app@127.0.0.1/app', schedule: '0 2 * * *' };

describe('backups remote config', () => {
  it("a job inherits backups.remote, its own remote replaces it, and remote: false opts out", () => {
    const config = configSchema.parse({
      remote,
      jobs: [pgJob, { ...pgJob, name: 'own', remote: { ...remote, repository: 'rest:https://u:p@h/' } }, { ...pgJob, name: 'none', remote: false }],
    });
    assert.equal(remoteOf(config, config.jobs[0]!)?.repository, remote.repository);
    assert.equal(remoteOf(config, config.jobs[1]!)?.repository, 'rest:https://u:p@h/');
    assert.equal(remoteOf(config, config.jobs[2]!), undefined);
    const filled = config.remote!;
    assert.equal(filled.init, false);
    assert.equal(filled.compression, 'auto');
    assert.equal(filled.binary, 'restic');
  });

  it('says plainly when restic is not installed', () => {
    assert.deepEqual(issues({ remote: { ...remote, binary: 'restic-not-here' } }), [
      'remote.binary: restic is not installed or not executable: apt-get install restic (or set binary to its path)',
    ]);
  });

  it('rejects what restic would not take, naming the key', () => {
    assert.deepEqual(issues({ remote: { ...remote, repository: 'relative/path' } }), [
      'remote.repository: expected a restic repository: sftp:, rest:, s3:, b2:, azure:, gs:, swift:, rclone: or an absolute path',
    ]);
    assert.match(issues({ remote: { ...remote, check: { schedule: '0 5 * * 0', readDataSubset: 'lots' } } })[0]!, /^remote\.check\.readDataSubset: expected restic's --read-data-subset/);
    assert.match(issues({ remote: { ...remote, options: { 'Sftp command': 'x' } } })[0]!, /^remote\.options\.Sftp command: restic options are <backend>\.<name>/);
    assert.match(issues({ remote: { ...remote, env: { 'aws key': 'x' } } })[0]!, /^remote\.env\.aws key: environment variable names/);
    assert.match(issues({ jobs: [{ ...pgJob, remote: { repository: remote.repository } }] })[0]!, /^jobs\.0\.remote: expected false or a remote block \(password: /);
  });

  it('pg custom dumps go -Z0 when restic compresses, unless the job sets compress or compression is off', () => {
    const config = configSchema.parse({ remote, jobs: [pgJob, { ...pgJob, name: 'z6', compress: 6 }] });
    const [plain, z6] = config.jobs;
    assert.equal(dumpSettingsFor(plain!, config.remote).type === 'postgres' && (dumpSettingsFor(plain!, config.remote) as { compress?: number }).compress, 0);
    assert.equal((dumpSettingsFor(z6!, config.remote) as { compress?: number }).compress, 6);
    assert.equal(dumpSettingsFor(plain!, { ...config.remote!, compression: 'off' }), plain);
    assert.equal(dumpSettingsFor(plain!, undefined), plain);
  });

  it('a rest: repository is shown with its password masked', () => {
    assert.equal(describeRepository('rest:https://user:hunter22@backup.example.com:8000/db1/'), 'rest:https://user:***@backup.example.com:8000/db1/');
    assert.equal(describeRepository('sftp:backup@host:/srv/restic'), 'sftp:backup@host:/srv/restic');
  });
});
