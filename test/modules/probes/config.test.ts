import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../../src/modules/probes/config.js';

function issues(items: unknown[]): string[] {
  const result = configSchema.safeParse(items);
  assert.equal(result.success, false);
  return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('the DESIGN example parses, with defaults filled in', () => {
  const config = configSchema.parse([
    { name: 'redis', type: 'redis', url: 'rediss://default:secret@cache.example.com:6379', interval: '15s', timeout: '2s' },
    { name: 'pg', type: 'postgres', url: 'postgres://app@127.0.0.1:5432/app', interval: '15s' },
    { name: 'api', type: 'http', url: 'http://127.0.0.1:8000/health', interval: '30s' },
  ]);
  assert.deepEqual(
    config.map((p) => [p.name, p.type, p.interval, p.timeout, p.critical, p.failuresBeforeDown, p.successesBeforeUp]),
    [
      ['redis', 'redis', 15_000, 2_000, false, 1, 1],
      ['pg', 'postgres', 15_000, 5_000, false, 1, 1],
      ['api', 'http', 30_000, 5_000, false, 1, 1],
    ],
  );
});

test('the default timeout never exceeds a short interval', () => {
  const [probe] = configSchema.parse([{ name: 't', type: 'tcp', address: '127.0.0.1:22', interval: '2s' }]);
  assert.equal(probe!.timeout, 2_000);
});

test('a timeout longer than the interval is refused at its own key', () => {
  assert.deepEqual(issues([{ name: 't', type: 'tcp', address: '127.0.0.1:22', interval: '1s', timeout: '2s' }]), [
    '0.timeout: must not be longer than the interval',
  ]);
});

test('an unknown type names the known ones', () => {
  assert.deepEqual(issues([{ name: 'x', type: 'smtp' }]), ['0.type: type must be one of redis, postgres, http, tcp']);
});

test('unknown keys, bad urls and bad durations are each reported', () => {
  const found = issues([
    { name: 'a', type: 'http', url: 'ftp://example.com', colour: 'red' },
    { name: 'b', type: 'redis', url: 'redis://127.0.0.1:6379', interval: 'soon' },
    { name: 'c', type: 'postgres', url: 'mysql://x' },
  ]);
  assert.ok(found.some((m) => m.startsWith('0.url: expected a URL starting with http:// or https://')), found.join('\n'));
  assert.ok(found.some((m) => m.startsWith('0: Unrecognized key') && m.includes('colour')), found.join('\n'));
  assert.ok(found.some((m) => m.startsWith("1.interval: 'soon' is not a duration")), found.join('\n'));
  assert.ok(found.some((m) => m.startsWith('2.url: expected a URL starting with postgres://')), found.join('\n'));
});

test('names are unique', () => {
  assert.deepEqual(
    issues([
      { name: 'a', type: 'tcp', address: '127.0.0.1:1' },
      { name: 'a', type: 'tcp', address: '127.0.0.1:2' },
    ]),
    ["1.name: duplicate name 'a' (already used at index 0)"],
  );
});

test('cross-field rules point at the failing key', () => {
  assert.deepEqual(issues([{ name: 'r', type: 'redis', url: 'redis://127.0.0.1:6379', tls: { ca: '/ca.pem' } }]), [
    '0.tls.ca: /ca.pem: does not exist',
    '0.tls: tls settings need a rediss:// url',
  ]);
  assert.deepEqual(issues([{ name: 'h', type: 'http', url: 'http://127.0.0.1/', body: 'x' }]), ['0.body: a GET request carries no body']);
  assert.deepEqual(issues([{ name: 'h', type: 'http', url: 'http://127.0.0.1/', bodyMatch: '(' }]), ['0.bodyMatch: not a valid regular expression']);
  assert.deepEqual(
    issues([{ name: 'p', type: 'postgres', url: 'postgres://127.0.0.1/db?sslmode=require', tls: { verify: false } }]),
    ['0.tls: give TLS settings either here or as ssl* parameters in the url, not both'],
  );
  assert.deepEqual(issues([{ name: 't', type: 'tcp', address: '127.0.0.1:1', failuresBeforeDown: 0 }]).length, 1);
  assert.deepEqual(issues([{ name: 't', type: 'tcp', address: 'nohost' }]).length, 1);
  assert.deepEqual(issues([{ name: 't', type: 'tcp', address: '127.0.0.1:1', tls: { ca: 'relative.pem' } }]), ['0.tls.ca: must be an absolute path to a file']);
});

test('kind-specific defaults', () => {
  const [redis, http] = configSchema.parse([
    { name: 'r', type: 'redis', url: 'redis://127.0.0.1:6379' },
    { name: 'h', type: 'http', url: 'https://127.0.0.1/' },
  ]);
  assert.equal(redis!.type === 'redis' && redis!.roundTrip, true);
  assert.equal(redis!.type === 'redis' && redis!.keyPrefix, 'caretaker:probe:');
  assert.equal(http!.type === 'http' && http!.method, 'GET');
  assert.deepEqual(http!.type === 'http' && http!.tls, { verify: true });
});
