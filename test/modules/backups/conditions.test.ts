import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import type { ConditionEvent } from '../../../src/agent/kit/conditions.js';
import { isStale } from '../../../src/modules/backups/job-conditions.js';
import { startHttpRecorder, type HttpRecorder } from '../../harness/http-recorder.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { startBackups, waitFor } from './support.js';

const DAILY = '0 3 * * *';
const DAY = 86_400_000;

test('stale: two scheduled runs since the last success, however the schedule is spaced', () => {
  const daily = { schedule: DAILY, timezone: 'UTC' };
  const success = new Date('2026-03-02T03:05:00Z');
  assert.equal(isStale(daily, success, new Date('2026-03-03T03:00:00Z')), false, 'one run missed');
  assert.equal(isStale(daily, success, new Date('2026-03-04T02:59:59Z')), false);
  assert.equal(isStale(daily, success, new Date('2026-03-04T03:00:00Z')), true, 'the second missed run: two periods');
  // Weekdays only: Friday's success is not stale over the weekend, only from Tuesday's run on.
  const weekdays = { schedule: '0 3 * * 1-5', timezone: 'UTC' };
  const friday = new Date('2026-03-06T03:05:00Z');
  assert.equal(isStale(weekdays, friday, new Date('2026-03-09T12:00:00Z')), false);
  assert.equal(isStale(weekdays, friday, new Date('2026-03-10T03:00:00Z')), true);
});

describe('backup conditions and heartbeat pings against a real PostgreSQL', () => {
  let server: PostgresServer;
  let dir: TempDir;
  let recorder: HttpRecorder;
  let job: Record<string, unknown>;

  before(async () => {
    [server, dir, recorder] = await Promise.all([startPostgres(), makeTempDir('backups-conditions'), startHttpRecorder()]);
    await server.psql('CREATE DATABASE app');
    await server.psql('CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g', 'app');
    job = { name: 'pg', type: 'postgres', url: server.url.replace(/\/postgres$/, '/app'), schedule: DAILY, heartbeat: `${recorder.url}/ping/secret-token` };
  });

  after(async () => {
    await Promise.all([server?.stop(), recorder?.close()]);
    await dir?.cleanup();
  });

  const pings = () => recorder.requests.map((r) => `${r.method} ${r.url}`);

  it('success: /start then the success ping; stopped server: backup:pg:run names the job and the connect error, /start then /fail with it; back: resolved', async () => {
    const b = await startBackups({ dir: dir.path, jobs: [job] });
    const events: ConditionEvent[] = [];
    b.test.conditions.watch((e) => events.push(e));
    try {
      b.runner.runNow('pg');
      await b.settled();
      assert.equal(b.runner.job('pg').state, 'ok');
      assert.deepEqual(pings(), ['POST /ping/secret-token/start', 'POST /ping/secret-token']);
      assert.match(recorder.requests[1]!.body, /^backup pg: pg-.* \d+ bytes in /);
      assert.deepEqual(b.test.conditions.firing(), []);

      await server.down();
      b.runner.runNow('pg');
      await b.settled();
      const fired = b.test.conditions.firing();
      assert.deepEqual(fired.map((e) => e.key), ['backup:pg:run']);
      assert.equal(fired[0]!.severity, 'critical');
      assert.equal(fired[0]!.summary, 'backup pg failed');
      assert.equal(fired[0]!.item, 'pg');
      assert.match(fired[0]!.detail, /^backup job pg: error: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
      assert.ok(!fired[0]!.detail.includes(server.password), 'the password stays out of the detail');
      assert.deepEqual(pings().slice(2), ['POST /ping/secret-token/start', 'POST /ping/secret-token/fail']);
      assert.match(recorder.requests[3]!.body, /^backup pg failed: error\nconnect ECONNREFUSED/);
      assert.ok(!recorder.requests[3]!.body.includes(server.password));

      await server.up();
      b.runner.runNow('pg');
      await b.settled();
      assert.deepEqual(b.test.conditions.firing(), []);
      assert.deepEqual(
        events.filter((e) => e.key === 'backup:pg:run').map((e) => e.status),
        ['resolved', 'firing', 'resolved'],
        'the first success resolves (an alert persisted before a restart), then one firing and one resolved',
      );
    } finally {
      await b.dispose();
    }
  });

  it('pg_dump itself failing: the detail carries its stderr line', async () => {
    // Only pg_dump meets this one: the table is readable, but another session holds it locked past lockTimeout.
    const { default: pg } = await import('pg');
    const holder = new pg.Client({ connectionString: job.url as string });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    const b = await startBackups({ dir: dir.path, jobs: [{ ...job, name: 'pg-locked', lockTimeout: '1s', heartbeat: undefined }] });
    try {
      b.runner.runNow('pg-locked');
      await b.settled();
      const fired = b.test.conditions.firing().find((e) => e.key === 'backup:pg-locked:run');
      assert.match(fired?.detail ?? '', /^backup job pg-locked: error: gave up after lockTimeout .*pg_dump: error: query failed: ERROR:  canceling statement/);
      assert.ok(!fired!.detail.includes(server.password));
    } finally {
      await b.dispose();
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('after a restart, stale counts from the catalog\'s last success: fired three days on with the server down, resolved by the catch-up once it is back', async () => {
    const later = () => new Date(Date.now() + 3 * DAY);
    await server.down();
    const down = await startBackups({ dir: dir.path, jobs: [{ ...job, heartbeat: undefined }] }, later);
    try {
      await waitFor('backup:pg:stale', () => down.test.conditions.firing().some((e) => e.key === 'backup:pg:stale'));
      await down.settled();
      const stale = down.test.conditions.firing().find((e) => e.key === 'backup:pg:stale')!;
      assert.equal(stale.summary, 'no backup pg for two scheduled periods');
      assert.match(stale.detail, /^backup job pg: last success \d{4}-.*, two scheduled runs \(0 3 \* \* \*\) since then did not succeed$/);
      assert.equal(down.runner.job('pg').lastRun?.trigger, 'catch-up');
    } finally {
      await down.dispose();
    }
    await server.up();
    const up = await startBackups({ dir: dir.path, jobs: [{ ...job, heartbeat: undefined }] }, later);
    const events: ConditionEvent[] = [];
    up.test.conditions.watch((e) => events.push(e));
    try {
      await waitFor('the catch-up run', () => up.runner.job('pg').lastRun !== null);
      await up.settled();
      assert.equal(up.runner.job('pg').state, 'ok');
      assert.deepEqual(
        events.filter((e) => e.key === 'backup:pg:stale').map((e) => e.status),
        ['firing', 'resolved'],
      );
    } finally {
      await up.dispose();
    }
  });

  it('a heartbeat receiver that is down does not fail the backup', async () => {
    const b = await startBackups({ dir: dir.path, jobs: [{ ...job, name: 'pg-hb', heartbeat: 'http://127.0.0.1:1/ping/x' }] });
    try {
      b.runner.runNow('pg-hb');
      await b.settled();
      assert.equal(b.runner.job('pg-hb').state, 'ok');
    } finally {
      await b.dispose();
    }
  });
});
