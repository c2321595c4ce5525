import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { configSchema } from '../../../src/modules/backups/config.js';

function issues(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

const pgJob = { name: 'pg', type: 'postgres', url: 'postgres://app@127.0.0.1/app', schedule: '0 2 * * *' };

describe('backups config', () => {
  it('accepts the README snippet', async () => {
    const readme = await readFile(new URL('../../../src/modules/backups/README.md', import.meta.url), 'utf8');
    const snippet = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(snippet, 'README has a yaml block');
    // The CA file must be readable when the config is loaded; the snippet's exists only on a real server.
    const expanded = snippet.replace(/\$\{env:[A-Z_]+\}/g, 'secret').replace('/etc/ssl/redis-ca.pem', fileURLToPath(import.meta.url));
    const config = configSchema.parse((parse(expanded) as { backups: unknown }).backups);
    assert.equal(config.jobs.length, 4);
    assert.equal(config.minFreeSpace, 2 * 1024 ** 3);
    const pg = config.jobs[0]!;
    assert.equal(pg.timeout, 2 * 3_600_000);
    assert.equal(pg.type === 'postgres' && pg.lockTimeout, 5 * 60_000);
  });

  it('fills defaults', () => {
    const config = configSchema.parse({ jobs: [pgJob, { name: 'r', type: 'redis', url: 'redis://127.0.0.1', schedule: '0 * * * *' }] });
    assert.equal(config.dir, '/var/backups/caretaker');
    assert.equal(config.jobs[0]!.timeout, 6 * 3_600_000);
    assert.equal(config.jobs[1]!.type === 'redis' && config.jobs[1]!.mode, 'auto');
    const pg = config.jobs[0]!;
    assert.equal(pg.type === 'postgres' && pg.globals, false);
    assert.equal(pg.type === 'postgres' && pg.jobs, undefined);
  });

  it('reports each problem at its key', () => {
    assert.deepEqual(issues({ jobs: [{ ...pgJob, schedule: '61 * * * *' }] }).length, 1);
    assert.match(issues({ jobs: [{ ...pgJob, schedule: 'every day' }] })[0]!, /^jobs\.0\.schedule: 'every day' is not a cron expression/);
    assert.match(issues({ jobs: [{ ...pgJob, timezone: 'Mars/Olympus' }] })[0]!, /^jobs\.0\.timezone: not an IANA time zone/);
    assert.match(issues({ jobs: [{ ...pgJob, url: 'mysql://x' }] })[0]!, /^jobs\.0\.url: expected postgres:\/\//);
    assert.match(issues({ jobs: [{ ...pgJob, retention: { keepDaily: 0 } }] })[0]!, /^jobs\.0\.retention\.keepDaily: /);
    assert.match(issues({ jobs: [{ ...pgJob, retention: { keepForever: 1 } }] })[0]!, /^jobs\.0\.retention: /);
    assert.match(issues({ jobs: [{ ...pgJob, bogus: 1 }] })[0]!, /^jobs\.0: .*bogus/);
    assert.match(issues({ jobs: [{ ...pgJob, type: 'mysql' }] })[0]!, /^jobs\.0\.type: /);
    assert.match(issues({ jobs: [{ ...pgJob, jobs: 0 }] })[0]!, /^jobs\.0\.jobs: /);
    assert.match(issues({ jobs: [{ ...pgJob, jobs: 2.5 }] })[0]!, /^jobs\.0\.jobs: /);
    assert.match(issues({ jobs: [{ ...pgJob, globals: 'yes' }] })[0]!, /^jobs\.0\.globals: /);
    assert.match(issues({ jobs: [pgJob, pgJob] })[0]!, /^jobs\.1\.name: duplicate name 'pg'/);
    assert.match(issues({ minFreeSpace: 'lots', jobs: [] })[0]!, /^minFreeSpace: /);
    assert.match(
      issues({ jobs: [{ name: 'r', type: 'redis', url: 'redis://h', tls: { insecure: true }, schedule: '0 * * * *' }] })[0]!,
      /^jobs\.0\.tls: tls settings need a rediss:\/\/ url/,
    );
    assert.match(issues({ jobs: [{ name: 'f', type: 'files', paths: ['etc'], schedule: '0 * * * *' }] })[0]!, /^jobs\.0\.paths\.0: must be an absolute path/);
  });

  it("reads a redis job's tls block with a probe's keys, and the old insecure as verify", () => {
    const redisJob = (tls: unknown) => configSchema.parse({ jobs: [{ name: 'r', type: 'redis', url: 'rediss://h:6380', tls, schedule: '0 * * * *' }] }).jobs[0]!;
    const tlsOf = (tls: unknown) => {
      const job = redisJob(tls);
      return job.type === 'redis' ? job.tls : undefined;
    };
    assert.deepEqual(tlsOf({ verify: false, serverName: 'cache.internal' }), { verify: false, serverName: 'cache.internal' });
    assert.deepEqual(tlsOf({ insecure: true }), { verify: false });
    assert.deepEqual(tlsOf({}), { verify: true });
  });
});
