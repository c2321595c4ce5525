import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplyError } from 'ioredis';
import pg from 'pg';
import { failure, networkReason } from '../../../src/modules/probes/classify.js';
import { postgresReason } from '../../../src/modules/probes/kinds/postgres.js';
import { redisReason } from '../../../src/modules/probes/kinds/redis.js';

function errno(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

test('network errors map to their reasons', () => {
  assert.equal(networkReason(errno('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED')), 'refused');
  assert.equal(networkReason(errno('read ECONNRESET', 'ECONNRESET')), 'refused');
  assert.equal(networkReason(errno('getaddrinfo ENOTFOUND x.invalid', 'ENOTFOUND')), 'dns');
  assert.equal(networkReason(errno('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT')), 'tls');
  assert.equal(networkReason(errno("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID')), 'tls');
  assert.equal(networkReason(new Error('wrapped', { cause: errno('x', 'ECONNREFUSED') })), 'refused');
  assert.equal(networkReason(new AggregateError([errno('a', 'ECONNREFUSED')], '')), 'refused');
  assert.equal(networkReason(new Error('something else')), undefined);
});

test('a failure carries the cause chain as its message and falls back per kind', () => {
  const outcome = failure(new Error('checking', { cause: errno('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED') }));
  assert.deepEqual(outcome, { ok: false, reason: 'refused', message: 'checking: connect ECONNREFUSED 127.0.0.1:1' });
  assert.equal(failure(new Error('odd'), undefined, 'status').reason, 'status');
});

test('redis server errors', () => {
  assert.equal(redisReason(new ReplyError('WRONGPASS invalid username-password pair or user is disabled.')), 'auth');
  assert.equal(redisReason(new ReplyError('NOAUTH Authentication required.')), 'auth');
  assert.equal(redisReason(new ReplyError("ERR unknown command 'INFO', with args beginning with: ")), 'unsupported');
  assert.equal(redisReason(new ReplyError('READONLY You can not write against a read only replica.')), 'query');
  assert.equal(redisReason(new Error('Command timed out')), 'timeout');
});

test('postgres SQLSTATEs', () => {
  const pgError = (code: string) => Object.assign(new pg.DatabaseError('x', 1, 'error'), { code, severity: 'FATAL' });
  assert.equal(postgresReason(pgError('28P01')), 'auth');
  assert.equal(postgresReason(pgError('28000')), 'auth');
  // No password in the url: pg's SCRAM fails in the client before the server can say 28P01.
  assert.equal(postgresReason(new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string')), 'auth');
  assert.equal(postgresReason(new TypeError('Password must be a string')), 'auth');
  assert.equal(postgresReason(pgError('3D000')), 'auth');
  assert.equal(postgresReason(pgError('0A000')), 'unsupported');
  assert.equal(postgresReason(pgError('57P01')), 'refused');
  assert.equal(postgresReason(pgError('42P01')), 'query');
  assert.equal(postgresReason(new Error('The server does not support SSL connections')), 'tls');
  assert.equal(postgresReason(new Error('Connection terminated unexpectedly')), 'refused');
  assert.equal(postgresReason(errno('connect ECONNREFUSED', 'ECONNREFUSED')), undefined);
  assert.equal(postgresReason(errno('write EPIPE', 'EPIPE')), undefined);
});
