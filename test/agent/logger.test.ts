import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createRootLogger, SecretSet } from '../../src/agent/logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, destination };
}

test('secrets never reach the log: URL passwords, secret keys, expanded values, error messages', () => {
  const secrets = new SecretSet();
  secrets.replaceAll(['s3cr3t-from-env', 'ab']);
  const { lines, destination } = capture();
  const log = createRootLogger({ secrets, destination });
  log.info({ url: 'rediss://default:hunter2@cache.example.com:6379' }, 'probe configured');
  log.info({ target: { password: 'pw-value', token: 'tok-value', headers: { authorization: 'Bearer abc' } } }, 'nested');
  log.error({ err: new Error('connect to postgres://app:pg-pass@db/app failed with s3cr3t-from-env') }, 'failure');
  log.info('message mentioning s3cr3t-from-env and https://u:p4ss@h/');
  const text = lines.join('\n');
  for (const leaked of ['hunter2', 'pw-value', 'tok-value', 'Bearer abc', 'pg-pass', 's3cr3t-from-env', 'p4ss']) {
    assert.ok(!text.includes(leaked), `${leaked} leaked: ${text}`);
  }
  assert.ok(text.includes('rediss://default:***@cache.example.com:6379'), 'the rest of the URL stays useful');
  assert.ok(text.includes('"msg":"probe configured"'));
  assert.ok(text.includes(' ab') || !text.includes('[REDACTED]ab'), 'very short values are not scrubbed from ordinary words');
});

test('log lines are JSON with level labels and ISO time', () => {
  const { lines, destination } = capture();
  createRootLogger({ destination }).child({ module: 'probes' }).warn({ probe: 'redis' }, 'probe down');
  const line = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(line.level, 'warn');
  assert.equal(line.module, 'probes');
  assert.equal(line.probe, 'redis');
  assert.match(String(line.time), /^\d{4}-\d\d-\d\dT/);
});
