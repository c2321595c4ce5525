import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connectRedis, parseRedisUrl, RedisError, type RedisFailure, type RedisTarget } from '../../../src/agent/kit/redis.js';
import { freePort } from '../../harness/ports.js';
import { redisCommand } from '../../harness/redis-client.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { startSilentListener, type SilentListener } from '../../harness/tcp-fakes.js';

const TIMEOUTS = { connectTimeoutMs: 2_000, commandTimeoutMs: 2_000 };

test('parseRedisUrl: user, password, database, TLS server name', () => {
  assert.deepEqual(parseRedisUrl('redis://:p%40ss@127.0.0.1:6390/5'), { host: '127.0.0.1', port: 6390, password: 'p@ss', db: 5 });
  assert.deepEqual(parseRedisUrl('redis://cache'), { host: 'cache', port: 6379 });
  assert.equal(parseRedisUrl('redis://cache/').db, undefined);
  assert.deepEqual(parseRedisUrl('rediss://u:pw@cache.internal:6380/0', { rejectUnauthorized: false }).tls, { servername: 'cache.internal', rejectUnauthorized: false });
  assert.deepEqual(parseRedisUrl('rediss://[::1]:6380').tls, {});
  assert.throws(() => parseRedisUrl('redis://:secret@cache/abc'), (err: Error) => /database number/.test(err.message) && !err.message.includes('secret'));
  assert.throws(() => parseRedisUrl('http://cache'), /redis:\/\//);
});

describe('connectRedis says why a connection failed', () => {
  let redis: RedisServer;
  let silent: SilentListener;
  let web: http.Server;
  let webPort: number;
  before(async () => {
    [redis, silent] = await Promise.all([startRedis({ password: 'pw', tls: true }), startSilentListener()]);
    web = http.createServer((_req, res) => res.end('hello'));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    webPort = (web.address() as AddressInfo).port;
  });
  after(async () => {
    await Promise.all([redis?.stop(), silent?.close(), new Promise((resolve) => web?.close(resolve))]);
  });

  async function failure(target: RedisTarget, timeouts = TIMEOUTS): Promise<{ failure: RedisFailure; message: string; ms: number }> {
    const started = Date.now();
    const err = await connectRedis(target, timeouts).then(
      (connection) => {
        connection.close();
        assert.fail('connected');
      },
      (err: unknown) => err,
    );
    assert.ok(err instanceof RedisError, String(err));
    return { failure: err.failure, message: err.message, ms: Date.now() - started };
  }

  const at = (port: number, extra: Partial<RedisTarget> = {}): RedisTarget => ({ host: '127.0.0.1', port, ...extra });

  test('connects, authenticates and selects the database of the URL', async () => {
    await redisCommand({ port: redis.port, password: 'pw' }, 'SELECT', '0');
    const connection = await connectRedis(parseRedisUrl(`redis://:pw@127.0.0.1:${redis.port}/7`), TIMEOUTS);
    try {
      await connection.client.set('kit:db', 'seven');
      assert.equal(await redisCommand({ port: redis.port, password: 'pw' }, 'EXISTS', 'kit:db'), 0, 'not in db 0');
    } finally {
      connection.close();
    }
  });

  test('a closed port: refused, naming the address', async () => {
    const port = await freePort();
    const seen = await failure(at(port));
    assert.equal(seen.failure, 'refused');
    assert.match(seen.message, new RegExp(`^connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\(nothing listens on 127\\.0\\.0\\.1:${port}`));
  });

  test('a wrong password and a missing one: auth, with the server\'s words and never the password', async () => {
    const wrong = await failure(at(redis.port, { password: 'not-the-password' }));
    assert.equal(wrong.failure, 'auth');
    assert.match(wrong.message, /^WRONGPASS/);
    assert.ok(!wrong.message.includes('not-the-password'));
    const missing = await failure(at(redis.port));
    assert.equal(missing.failure, 'auth');
    assert.match(missing.message, /^NOAUTH .*needs a password/);
  });

  test('an HTTP port: not a Redis server, quoting what it answered', async () => {
    const seen = await failure(at(webPort));
    assert.equal(seen.failure, 'not_redis');
    assert.equal(seen.message, `127.0.0.1:${webPort} is not a Redis server: it answered "HTTP/1.1 400 Bad Request"`);
  });

  test('TLS against a plain Redis port: tls, "use redis://", found after 1 s rather than at the 10 s timeout', async () => {
    const seen = await failure(at(redis.port, { password: 'pw', tls: { rejectUnauthorized: false } }), { connectTimeoutMs: 10_000, commandTimeoutMs: 10_000 });
    assert.equal(seen.failure, 'tls');
    assert.equal(seen.message, `127.0.0.1:${redis.port} answers plain Redis, not TLS: use redis:// (or the server's tls-port)`);
    // Well before the 10 s timeout, with room for a loaded test machine.
    assert.ok(seen.ms < 4_000, `took ${seen.ms} ms`);
  });

  test('plain against the TLS port: tls, "use rediss://"', async () => {
    const seen = await failure(at(redis.tlsPort!, { password: 'pw' }));
    assert.equal(seen.failure, 'tls');
    assert.match(seen.message, /speaks TLS: use rediss:\/\//);
  });

  test('TLS with an unknown CA: tls; with the CA it connects', async () => {
    const unknown = await failure(at(redis.tlsPort!, { password: 'pw', tls: {} }));
    assert.equal(unknown.failure, 'tls');
    const connection = await connectRedis(at(redis.tlsPort!, { password: 'pw', tls: { ca: await readFile(redis.ca!) } }), TIMEOUTS);
    connection.close();
  });

  test('a port that accepts and never answers: timeout within the connect timeout, plain and TLS', async () => {
    for (const extra of [{}, { tls: {} }] as Array<Partial<RedisTarget>>) {
      const seen = await failure(at(silent.port, extra), { connectTimeoutMs: 1_000, commandTimeoutMs: 30_000 });
      assert.equal(seen.failure, 'timeout', seen.message);
      assert.match(seen.message, extra.tls ? /^no TLS handshake with 127\.0\.0\.1:\d+ within 1000 ms/ : /^connected to 127\.0\.0\.1:\d+, but no Redis reply within 1000 ms/);
      assert.ok(seen.ms >= 990 && seen.ms < 1_800, `took ${seen.ms} ms`);
    }
  });

  test('a database the server does not have: reply, naming it', async () => {
    const seen = await failure(at(redis.port, { password: 'pw', db: 99 }));
    assert.equal(seen.failure, 'reply');
    assert.match(seen.message, /has no database 99/);
  });

  test('a command on a connection the server then drops: explain names the server, not only "Connection is closed."', async () => {
    const connection = await connectRedis(at(redis.port, { password: 'pw' }), TIMEOUTS);
    try {
      const id = await connection.client.client('ID');
      await redisCommand({ port: redis.port, password: 'pw' }, 'CLIENT', 'KILL', 'ID', String(id));
      const err = await connection.client.ping().then(() => undefined, (e: unknown) => e);
      assert.ok(err, 'the ping failed');
      const explained = connection.explain(err);
      assert.ok(explained instanceof RedisError);
      assert.equal(explained.failure, 'refused');
      assert.equal(explained.message, `127.0.0.1:${redis.port} closed the connection`);
      const reply = new Error('READONLY You can not write against a read only replica.');
      assert.equal(connection.explain(reply), reply, 'other errors pass through');
    } finally {
      connection.close();
    }
  });
});
