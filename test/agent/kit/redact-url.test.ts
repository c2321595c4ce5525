import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from '../../../src/agent/kit/redact-url.js';

test('redactUrl masks the password of the userinfo and keeps the rest', () => {
  assert.equal(redactUrl('rediss://app:s3cret@cache.internal:6380/2'), 'rediss://app:***@cache.internal:6380/2');
  assert.equal(redactUrl('https://example.org/health?x=1'), 'https://example.org/health?x=1');
  assert.equal(redactUrl('redis://nopass@h:6379'), 'redis://nopass@h:6379');
});

test('redactUrl masks a password given as a libpq query parameter', () => {
  const redacted = redactUrl('postgres://app@db/main?sslmode=require&password=s3cret&sslpassword=k3y');
  assert.doesNotMatch(redacted, /s3cret|k3y/);
  assert.equal(redacted, 'postgres://app@db/main?sslmode=require&password=***&sslpassword=***');
});

test('redactUrl repeats none of a text it cannot parse', () => {
  assert.equal(redactUrl('not a url with s3cret'), '(unparsable URL)');
});
