import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { probeSchema, configSchema } from '../../../src/modules/probes/config.js';
import { createChecker } from '../../../src/modules/probes/kinds/table.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { startRedisInNetns, type NetnsRedis } from '../../harness/redis-netns.js';

const PASSWORD = 'probe-secret';

function check(input: Record<string, unknown>) {
  const checker = createChecker(probeSchema.parse({ interval: '10s', timeout: '5s', ...input }));
  return checker.check(AbortSignal.timeout(8_000)).finally(() => checker.close());
}

describe('probes through exec:', () => {
  let pg: PostgresServer;
  let redis: NetnsRedis;
  let nsenter: string[];

  before(async () => {
    [pg, redis] = await Promise.all([startPostgres({ socketOnly: true }), startRedisInNetns(PASSWORD)]);
    nsenter = redis.enter;
  });

  after(async () => {
    await redis?.stop();
    await pg?.stop();
  });

  it('postgres: psql runs the statistics query through the prefix; without it the server is out of reach', async () => {
    const outcome = await check({ name: 'pg', type: 'postgres', url: pg.url, exec: ['runuser', '-u', 'postgres', '--'] });
    assert.equal(outcome.ok, true, outcome.message);
    assert.equal(outcome.details?.role, 'primary');
    assert.match(String(outcome.details?.version), /^\d+\.\d+/);
    assert.ok((outcome.series?.caretaker_probe_postgres_connections ?? 0) >= 1);
    assert.ok((outcome.series?.caretaker_probe_postgres_server_version_num ?? 0) > 100_000);
    const direct = await check({ name: 'pg', type: 'postgres', url: pg.url });
    assert.equal(direct.ok, false);
    assert.equal(direct.reason, 'auth', direct.message);
  });

  it('postgres: a failure through the prefix keeps the tool\'s words and its reason', async () => {
    const missing = await check({ name: 'pg', type: 'postgres', url: pg.url.replace('/postgres?', '/nope?'), exec: ['runuser', '-u', 'postgres', '--'] });
    assert.equal(missing.reason, 'auth');
    assert.match(missing.message, /database "nope" does not exist/);
    const noUser = await check({ name: 'pg', type: 'postgres', url: pg.url, exec: ['runuser', '-u', 'no-such-user-here', '--'] });
    assert.equal(noUser.ok, false);
    assert.equal(noUser.reason, 'refused');
    assert.match(noUser.message, /runuser: exited with 1: .*no-such-user-here/);
  });

  it('redis: PING, INFO and the round trip go through nsenter into the namespace; the password travels in the environment', async () => {
    const url = `redis://:${PASSWORD}@127.0.0.1:${redis.port}`;
    const outcome = await check({ name: 'cache', type: 'redis', url, exec: nsenter });
    assert.equal(outcome.ok, true, outcome.message);
    assert.equal(outcome.message, 'master answered, round trip ok');
    assert.equal(outcome.details?.role, 'master');
    assert.ok((outcome.series?.caretaker_probe_redis_connected_clients ?? 0) >= 1);
    const direct = await check({ name: 'cache', type: 'redis', url });
    assert.equal(direct.ok, false);
    assert.equal(direct.reason, 'refused', direct.message);
  });

  it('redis: a wrong password through the prefix is auth, not a crash or a success', async () => {
    const outcome = await check({ name: 'cache', type: 'redis', url: `redis://:wrong@127.0.0.1:${redis.port}`, exec: nsenter });
    assert.equal(outcome.ok, false);
    assert.equal(outcome.reason, 'auth', outcome.message);
    assert.doesNotMatch(outcome.message, /wrong/);
  });
});

describe('probes exec: at load', () => {
  function issues(input: unknown): string[] {
    const result = configSchema.safeParse(input);
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  }

  it('mistakes are reported at their key', () => {
    assert.deepEqual(issues([{ name: 'pg', type: 'postgres', url: 'postgres://a@h/db', exec: [] }]), ['0.exec: names no program: give e.g. [docker, exec, -i, pg], or leave exec out']);
    assert.deepEqual(issues([{ name: 'r', type: 'redis', url: 'redis://h', exec: ['no-such-engine-here', 'exec'] }]), ['0.exec.0: no-such-engine-here: not found on PATH']);
    assert.deepEqual(issues([{ name: 'r', type: 'redis', url: 'rediss://h', exec: ['nsenter'], tls: { verify: false } }]), [
      '0.tls: redis-cli run through exec uses its own TLS defaults for a rediss:// url: leave the tls block out with exec',
    ]);
    assert.deepEqual(issues([{ name: 'r', type: 'redis', url: 'redis://:pw@h', exec: ['nsenter'], sentinel: { master: 'm', addresses: ['127.0.0.1:26379'] } }]), [
      "0.sentinel: redis-cli run through exec asks the url's server only: leave sentinel out with exec",
    ]);
    assert.deepEqual(issues([{ name: 'pg', type: 'postgres', url: 'postgres://a@h/db', exec: ['nsenter'], tls: { verify: false } }]), [
      '0.tls: psql run through exec reads TLS settings from the url (sslmode, sslrootcert): give them there',
    ]);
  });
});
