import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../../../src/modules/backups/config.js';
import { sameDatabase } from '../../../src/modules/backups/drill/config.js';

function issues(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const pg = (url: string, to: string) => ({ jobs: [{ name: 'pg', type: 'postgres', url, schedule: '0 2 * * *', drill: { schedule: '0 4 * * 0', to } }] });

describe('restore drill config', () => {
  it('accepts a scratch database and fills from: local', () => {
    const config = configSchema.parse(pg('postgres://app:pw@127.0.0.1:5432/app', 'postgres://app:pw@127.0.0.1:5432/caretaker_drill'));
    const job = config.jobs[0]!;
    assert.deepEqual(job.type === 'postgres' && job.drill, { schedule: '0 4 * * 0', to: 'postgres://app:pw@127.0.0.1:5432/caretaker_drill', from: 'local' });
  });

  it("refuses a drill.to naming the job's own database, however the URL spells it", () => {
    for (const [url, to] of [
      ['postgres://app@127.0.0.1/app', 'postgres://other:pw@127.0.0.1:5432/app'],
      ['postgres://app@localhost:5432/app', 'postgresql://app@127.0.0.1/app'],
      ['postgres://app@db.internal/app', 'postgres://app@DB.internal/scratch?dbname=app'],
      ['postgres://app@db.internal/app?port=6543', 'postgres://app@db.internal:6543/app'],
      // No database in the URL: libpq takes the user's name.
      ['postgres://app@db.internal/', 'postgres://x@db.internal/app'],
    ]) {
      assert.deepEqual(issues(pg(url!, to!)), [
        'jobs.0.drill.to: names the database this job backs up: a drill empties and drops its target, so give a scratch database (e.g. .../caretaker_drill)',
      ], `${url} vs ${to}`);
    }
  });

  it('allows the same database name on another server or port', () => {
    assert.equal(sameDatabase('postgres://a@db1/app', 'postgres://a@db2/app'), false);
    assert.equal(sameDatabase('postgres://a@db1/app', 'postgres://a@db1:5433/app'), false);
    assert.deepEqual(issues(pg('postgres://a@db1/app', 'postgres://a@db1:5433/app')), []);
  });

  it('wants a remote for a drill from the remote: the job\'s own or the section\'s, not remote: false', () => {
    const remote = { repository: '/srv/restic', password: 'pw' };
    const job = { name: 'r', type: 'redis', url: 'redis://127.0.0.1', schedule: '0 * * * *', drill: { schedule: '0 4 * * 0', from: 'remote' } };
    const refused = ["jobs.0.drill.from: is remote, but the job has no remote: set backups.remote or the job's remote, or use from: local"];
    assert.deepEqual(issues({ jobs: [job] }), refused);
    assert.deepEqual(issues({ remote, jobs: [{ ...job, remote: false }] }), refused);
    assert.deepEqual(issues({ remote, jobs: [job] }), []);
    assert.deepEqual(issues({ jobs: [{ ...job, remote }] }), []);
  });

  it('checks the drill keys strictly and has none for files jobs', () => {
    assert.deepEqual(issues(pg('postgres://a@db1/app', 'mysql://x/y')), ['jobs.0.drill.to: expected postgres://user[:password]@host[:port]/scratch_database']);
    assert.deepEqual(issues({ jobs: [{ name: 'r', type: 'redis', url: 'redis://127.0.0.1', schedule: '0 * * * *', drill: { schedule: '0 4 * * 0', from: 'elsewhere' } }] }), [
      'jobs.0.drill.from: Invalid option: expected one of "local"|"remote"',
    ]);
    assert.ok(issues({ jobs: [{ name: 'f', type: 'files', paths: ['/etc'], schedule: '0 * * * *', drill: { schedule: '0 4 * * 0' } }] }).some((i) => /drill/.test(i)));
  });
});
