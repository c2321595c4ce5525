import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { startTcpProxy } from '../../harness/tcp-fakes.js';
import { eventually, INTERVAL_MS, startProber, TIMEOUT_MS, waitForStatus } from './fixture.js';

describe('postgres goes away and comes back', () => {
  let postgres: PostgresServer;
  before(async () => {
    postgres = await startPostgres({ password: 'pw' });
  });
  after(() => postgres?.stop());

  const probeBackends = async () => Number((await postgres.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'caretaker-probe'")).trim());

  test('server stopped: down with reason refused; restarted: up again within one interval', async () => {
    const fixture = await startProber([{ name: 'db', type: 'postgres', url: postgres.url, interval: `${INTERVAL_MS}ms`, timeout: `${TIMEOUT_MS}ms` }]);
    try {
      await waitForStatus(fixture, 'db', 'up', 2_000);
      await postgres.down();
      await waitForStatus(fixture, 'db', 'down', 2_000);
      assert.equal(fixture.prober.get('db').last?.reason, 'refused');
      await postgres.up();
      const took = await waitForStatus(fixture, 'db', 'up', 3_000);
      assert.ok(took <= INTERVAL_MS + TIMEOUT_MS, `back up after ${took} ms`);
      assert.equal(await probeBackends(), 1);
    } finally {
      await fixture.stop();
    }
  });

  test('100 down/up cycles leave one server connection, and none after stop', async () => {
    const proxy = await startTcpProxy(postgres.port);
    const fixture = await startProber([{ name: 'db', type: 'postgres', url: `postgres://postgres:pw@127.0.0.1:${proxy.port}/postgres`, timeout: '2s' }]);
    try {
      for (let cycle = 0; cycle < 100; cycle++) {
        await proxy.down();
        const down = await fixture.check('db');
        assert.equal(down.status, 'down', `cycle ${cycle}: ${JSON.stringify(down.last)}`);
        assert.equal(down.last?.reason, 'refused');
        await proxy.up();
        const up = await fixture.check('db');
        assert.equal(up.status, 'up', `cycle ${cycle}: ${JSON.stringify(up.last)}`);
      }
      assert.equal(proxy.connections(), 1);
      assert.ok(await eventually(async () => (await probeBackends()) === 1), `server sees ${await probeBackends()} probe backends`);
      await fixture.stop();
      assert.ok(await eventually(async () => (await probeBackends()) === 0), `server sees ${await probeBackends()} backends after stop`);
    } finally {
      await fixture.stop();
      await proxy.close();
    }
  });
});


describe('postgres that requires a password', () => {
  let postgres: PostgresServer;
  before(async () => {
    postgres = await startPostgres({ password: 'pw' });
  });
  after(() => postgres?.stop());

  test('a url with no password is reason auth, and the message says to add one (not refused)', async () => {
    const fixture = await startProber([{ name: 'db', type: 'postgres', url: `postgres://postgres@127.0.0.1:${postgres.port}/postgres` }]);
    try {
      const view = await fixture.check('db');
      assert.equal(view.status, 'down');
      assert.equal(view.last?.reason, 'auth', JSON.stringify(view.last));
      assert.match(view.last!.message, /the server asks for a password and the url gives none/);
      assert.equal(await fixture.sample('caretaker_probe_checks_total', { probe: 'db', kind: 'postgres', result: 'failure', reason: 'refused' }), 0);
    } finally {
      await fixture.stop();
    }
  });

  test('a wrong password is reason auth with the server\'s message (SQLSTATE 28P01)', async () => {
    const fixture = await startProber([{ name: 'db', type: 'postgres', url: `postgres://postgres:wrong@127.0.0.1:${postgres.port}/postgres` }]);
    try {
      const view = await fixture.check('db');
      assert.equal(view.last?.reason, 'auth', JSON.stringify(view.last));
      assert.match(view.last!.message, /password authentication failed for user "postgres"/);
      assert.doesNotMatch(view.last!.message, /wrong/);
    } finally {
      await fixture.stop();
    }
  });
});
