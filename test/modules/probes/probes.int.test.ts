import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../harness/ports.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { redisCommand } from '../../harness/redis-client.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { checkOnce, startProber } from './fixture.js';
import { startHttpServer, type TestHttpServer } from './servers.js';

const PASSWORD = 'probe-secret';

describe('redis probes', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis({ password: PASSWORD, tls: true });
    await redisCommand({ port: redis.port, password: PASSWORD }, 'ACL', 'SETUSER', 'watcher', 'on', '>watcher-pw', '~caretaker:probe:*', '+ping', '+info', '+set', '+get', '+del');
  });
  after(() => redis?.stop());

  test('up with a password: INFO numbers exported, round-trip key removed', async () => {
    const fixture = await startProber([{ name: 'cache', type: 'redis', url: redis.url, critical: true }]);
    try {
      const view = await fixture.check('cache');
      assert.equal(view.status, 'up', JSON.stringify(view.last));
      assert.equal(view.last?.reason, 'ok');
      assert.equal(view.last?.details.role, 'master');
      assert.equal(view.last?.details.roundTrip, 'ok');
      assert.ok(!view.target.includes(PASSWORD), 'the password is not shown');
      assert.equal(await fixture.sample('caretaker_probe_up', { probe: 'cache', kind: 'redis' }), 1);
      assert.ok((await fixture.sample('caretaker_probe_redis_connected_clients', { probe: 'cache' }))! >= 1);
      assert.ok((await fixture.sample('caretaker_probe_redis_used_memory_bytes', { probe: 'cache' }))! > 0);
      assert.equal(await fixture.sample('caretaker_probe_redis_maxmemory_bytes', { probe: 'cache' }), 0);
      assert.equal(await fixture.sample('caretaker_probe_redis_evicted_keys_total', { probe: 'cache' }), 0);
      // The check at start and the one asked for may be one and the same (single flight).
      assert.ok((await fixture.sample('caretaker_probe_checks_total', { probe: 'cache', result: 'success', reason: 'ok' }))! >= 1);
      assert.equal(await fixture.sample('caretaker_probe_checks_total', { probe: 'cache', result: 'failure', reason: 'auth' }), 0);
      assert.equal(await redisCommand({ port: redis.port, password: PASSWORD }, 'EXISTS', 'caretaker:probe:cache'), 0);
      assert.deepEqual(fixture.prober.health().checks, [{ name: 'cache', ok: true, critical: true, message: `up (${view.last?.latencyMs} ms)` }]);
    } finally {
      await fixture.stop();
    }
  });

  test('an ACL user limited to the probe key and commands', async () => {
    const view = await checkOnce({ type: 'redis', url: `redis://watcher:watcher-pw@127.0.0.1:${redis.port}` });
    assert.equal(view.status, 'up', JSON.stringify(view.last));
  });

  test('wrong or missing password: down with reason auth', async () => {
    const wrong = await checkOnce({ type: 'redis', url: `redis://:nope@127.0.0.1:${redis.port}` });
    assert.equal(wrong.status, 'down');
    assert.equal(wrong.last?.reason, 'auth');
    assert.match(wrong.last!.message, /WRONGPASS/);
    const missing = await checkOnce({ type: 'redis', url: `redis://127.0.0.1:${redis.port}` });
    assert.equal(missing.last?.reason, 'auth');
  });

  test('rediss:// verified against the generated CA; without it, reason tls', async () => {
    const tlsUrl = `rediss://:${PASSWORD}@127.0.0.1:${redis.tlsPort}`;
    const verified = await checkOnce({ type: 'redis', url: tlsUrl, tls: { ca: redis.ca } });
    assert.equal(verified.status, 'up', JSON.stringify(verified.last));
    const unknownCa = await checkOnce({ type: 'redis', url: tlsUrl });
    assert.equal(unknownCa.last?.reason, 'tls');
    const unverified = await checkOnce({ type: 'redis', url: tlsUrl, tls: { verify: false } });
    assert.equal(unverified.status, 'up');
    const wrongName = await checkOnce({ type: 'redis', url: tlsUrl, tls: { ca: redis.ca, serverName: 'cache.example.com' } });
    assert.equal(wrongName.last?.reason, 'tls');
  });

  test('a closed port: reason refused', async () => {
    const view = await checkOnce({ type: 'redis', url: `redis://127.0.0.1:${await freePort()}` });
    assert.equal(view.last?.reason, 'refused');
    assert.match(view.last!.message, /ECONNREFUSED/);
  });

  test('TLS against the plain port: reason tls, "use redis://"; plain against the TLS port: "use rediss://"', async () => {
    const tlsOnPlain = await checkOnce({ type: 'redis', url: `rediss://:${PASSWORD}@127.0.0.1:${redis.port}`, tls: { verify: false }, timeout: '3s' });
    assert.equal(tlsOnPlain.last?.reason, 'tls', JSON.stringify(tlsOnPlain.last));
    assert.equal(tlsOnPlain.last!.message, `127.0.0.1:${redis.port} answers plain Redis, not TLS: use redis:// (or the server's tls-port)`);
    const plainOnTls = await checkOnce({ type: 'redis', url: `redis://:${PASSWORD}@127.0.0.1:${redis.tlsPort}` });
    assert.equal(plainOnTls.last?.reason, 'tls', JSON.stringify(plainOnTls.last));
    assert.match(plainOnTls.last!.message, /speaks TLS: use rediss:\/\//);
  });

  test('a port that is not Redis: reason query, and the message says so with what it answered', async () => {
    const web = await startHttpServer();
    try {
      const view = await checkOnce({ type: 'redis', url: `redis://127.0.0.1:${new URL(web.url).port}` });
      assert.equal(view.last?.reason, 'query');
      assert.match(view.last!.message, /^127\.0\.0\.1:\d+ is not a Redis server: it answered "HTTP\/1\.1 /);
    } finally {
      await web.close();
    }
  });
});

test('redis with INFO disabled: reason unsupported', async () => {
  const redis = await startRedis({ renameCommands: { INFO: '' } });
  try {
    const view = await checkOnce({ type: 'redis', url: redis.url });
    assert.equal(view.last?.reason, 'unsupported', JSON.stringify(view.last));
  } finally {
    await redis.stop();
  }
});

describe('postgres probes', () => {
  let postgres: PostgresServer;
  before(async () => {
    postgres = await startPostgres({ ssl: true, password: PASSWORD });
  });
  after(() => postgres?.stop());

  test('up: version, connections, size and recovery exported', async () => {
    const fixture = await startProber([{ name: 'db', type: 'postgres', url: postgres.url }]);
    try {
      const view = await fixture.check('db');
      assert.equal(view.status, 'up', JSON.stringify(view.last));
      assert.equal(view.last?.details.role, 'primary');
      assert.match(String(view.last?.details.version), /^1\d\./);
      assert.equal(await fixture.sample('caretaker_probe_postgres_max_connections', { probe: 'db' }), 100);
      assert.ok((await fixture.sample('caretaker_probe_postgres_connections', { probe: 'db' }))! >= 1);
      assert.equal(await fixture.sample('caretaker_probe_postgres_in_recovery', { probe: 'db' }), 0);
      assert.ok((await fixture.sample('caretaker_probe_postgres_database_size_bytes', { probe: 'db' }))! > 1_000_000);
      assert.ok((await fixture.sample('caretaker_probe_postgres_server_version_num', { probe: 'db' }))! >= 150000);
      assert.equal(await fixture.sample('caretaker_probe_postgres_replication_lag_seconds', { probe: 'db' }), undefined);
      // The connection is kept: a second check adds no backend.
      await fixture.check('db');
      const backends = await postgres.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'caretaker-probe'");
      assert.equal(backends.trim(), '1');
    } finally {
      await fixture.stop();
    }
  });

  test('ssl=on with sslmode=verify-full and the generated CA; without the CA, reason tls', async () => {
    const verified = await checkOnce({ type: 'postgres', url: `${postgres.url}?sslmode=verify-full&sslrootcert=${postgres.ca}` });
    assert.equal(verified.status, 'up', JSON.stringify(verified.last));
    const viaBlock = await checkOnce({ type: 'postgres', url: postgres.url, tls: { ca: postgres.ca } });
    assert.equal(viaBlock.status, 'up', JSON.stringify(viaBlock.last));
    const unknownCa = await checkOnce({ type: 'postgres', url: `${postgres.url}?sslmode=verify-full` });
    assert.equal(unknownCa.last?.reason, 'tls');
    const wrongName = await checkOnce({ type: 'postgres', url: postgres.url, tls: { ca: postgres.ca, serverName: 'db.example.com' } });
    assert.equal(wrongName.last?.reason, 'tls');
  });

  test('wrong password: reason auth; closed port: reason refused', async () => {
    const wrong = await checkOnce({ type: 'postgres', url: `postgres://postgres:nope@127.0.0.1:${postgres.port}/postgres` });
    assert.equal(wrong.last?.reason, 'auth');
    assert.match(wrong.last!.message, /password authentication failed/);
    const closed = await checkOnce({ type: 'postgres', url: `postgres://postgres:x@127.0.0.1:${await freePort()}/postgres` });
    assert.equal(closed.last?.reason, 'refused');
  });
});

describe('http probes', () => {
  let plain: TestHttpServer;
  let secure: TestHttpServer;
  before(async () => {
    [plain, secure] = await Promise.all([startHttpServer(), startHttpServer({ tls: true })]);
  });
  after(async () => {
    await plain?.close();
    await secure?.close();
  });

  test('status, body match and headers; the connection is reused', async () => {
    plain.answer = { status: 200, body: '{"status":"healthy"}' };
    const before = plain.connectionsAccepted();
    const fixture = await startProber([
      { name: 'api', type: 'http', url: `${plain.url}/health`, bodyMatch: '"healthy"', headers: { 'x-probe': 'caretaker' } },
    ]);
    try {
      for (let i = 0; i < 5; i++) assert.equal((await fixture.check('api')).status, 'up');
      assert.equal(plain.lastHeaders?.['x-probe'], 'caretaker');
      assert.equal(plain.connectionsAccepted() - before, 1, 'one kept-alive connection for all checks');
      assert.equal(await fixture.sample('caretaker_probe_http_status_code', { probe: 'api' }), 200);

      plain.answer = { status: 503, body: 'maintenance' };
      const down = await fixture.check('api');
      assert.equal(down.status, 'down');
      assert.equal(down.last?.reason, 'status');
      assert.equal(down.last?.message, 'unexpected status 503');

      plain.answer = { status: 200, body: '{"status":"degraded"}' };
      const mismatch = await fixture.check('api');
      assert.equal(mismatch.last?.reason, 'status');
      assert.match(mismatch.last!.message, /does not match/);
    } finally {
      await fixture.stop();
      plain.answer = { status: 200, body: 'ok' };
    }
  });

  test('expectStatus accepts what it lists', async () => {
    plain.answer = { status: 401, body: 'login' };
    try {
      assert.equal((await checkOnce({ type: 'http', url: plain.url, expectStatus: [401, 403] })).status, 'up');
      assert.equal((await checkOnce({ type: 'http', url: plain.url })).last?.reason, 'status');
    } finally {
      plain.answer = { status: 200, body: 'ok' };
    }
  });

  test('https: verified with the CA, certificate not-after exported; unknown CA is reason tls', async () => {
    const notAfter = Math.floor(Date.parse(new X509Certificate(await readFile(secure.certs!.cert)).validTo) / 1000);
    const fixture = await startProber([{ name: 'web', type: 'http', url: secure.url, tls: { ca: secure.certs!.ca } }]);
    try {
      const view = await fixture.check('web');
      assert.equal(view.status, 'up', JSON.stringify(view.last));
      assert.equal(await fixture.sample('caretaker_probe_http_cert_not_after_timestamp_seconds', { probe: 'web' }), notAfter);
      assert.equal(view.last?.details.certNotAfter, new Date(notAfter * 1000).toISOString());
    } finally {
      await fixture.stop();
    }
    assert.equal((await checkOnce({ type: 'http', url: secure.url })).last?.reason, 'tls');
    assert.equal((await checkOnce({ type: 'http', url: secure.url, tls: { verify: false } })).status, 'up');
  });

  test('a closed port is refused; an unknown host is dns', async () => {
    assert.equal((await checkOnce({ type: 'http', url: `http://127.0.0.1:${await freePort()}/` })).last?.reason, 'refused');
    assert.equal((await checkOnce({ type: 'http', url: 'http://caretaker-test.invalid/' })).last?.reason, 'dns');
  });
});

describe('tcp probes', () => {
  let secure: TestHttpServer;
  before(async () => {
    secure = await startHttpServer({ tls: true });
  });
  after(() => secure?.close());

  test('connects; with tls the certificate is checked and its not-after exported', async () => {
    assert.equal((await checkOnce({ type: 'tcp', address: `127.0.0.1:${secure.port}` })).status, 'up');
    const fixture = await startProber([{ name: 'tls', type: 'tcp', address: `127.0.0.1:${secure.port}`, tls: { ca: secure.certs!.ca } }]);
    try {
      assert.equal((await fixture.check('tls')).status, 'up');
      assert.ok((await fixture.sample('caretaker_probe_tcp_cert_not_after_timestamp_seconds', { probe: 'tls' }))! > Date.now() / 1000);
    } finally {
      await fixture.stop();
    }
    assert.equal((await checkOnce({ type: 'tcp', address: `127.0.0.1:${secure.port}`, tls: {} })).last?.reason, 'tls');
  });

  test('a closed port is refused', async () => {
    const view = await checkOnce({ type: 'tcp', address: `127.0.0.1:${await freePort()}` });
    assert.equal(view.status, 'down');
    assert.equal(view.last?.reason, 'refused');
  });
});
