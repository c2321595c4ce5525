import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { EXIT, type CommandContext } from '../../../src/agent/kit/cli.js';
import { redisCopyCommand } from '../../../src/modules/backups/redis/copy-command.js';
import { freePort } from '../../harness/ports.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { assertSameKeyspace, fillMany, keyspace } from './redis-logical-data.js';

/** `caretaker redis copy …` in this process, its output captured. */
async function copy(args: string[], flags: Record<string, string | true> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = {
    args,
    flags,
    json: false,
    client: { get: () => Promise.reject(new Error('no daemon')), post: () => Promise.reject(new Error('no daemon')) },
    loadSection: async () => undefined,
    configPath: '/nonexistent/caretaker.yaml',
    stateDir: () => Promise.reject(new Error('no state dir')),
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    confirm: async () => false,
  };
  const code = await redisCopyCommand.run(ctx);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('caretaker redis copy: keys between two real servers', () => {
  let source: RedisServer;
  let target: RedisServer;
  let limited: RedisServer;
  const open = (server: RedisServer, password?: string) => new Redis({ port: server.port, ...(password ? { password } : {}) });

  before(async () => {
    [source, target, limited] = await Promise.all([
      startRedis({ password: 'src-pw' }),
      startRedis({ password: 'dst-pw' }),
      // A user that may write only keys named k:*, as an ACL on a shared server allows.
      startRedis({ extraArgs: ['--user', 'limited', 'on', '>lim-pw', '~k:*', '+@all'] }),
    ]);
    const src = open(source, 'src-pw');
    try {
      await fillMany(src, 100_000);
    } finally {
      src.disconnect();
    }
    const dst = open(target, 'dst-pw');
    await dst.set('k:5', 'the target keeps its own').finally(() => dst.disconnect());
  });

  after(async () => {
    await Promise.all([source?.stop(), target?.stop(), limited?.stop()]);
  });

  it('--dry-run counts what it would copy and what is already there, and writes nothing', async () => {
    const dryRun = await copy([source.url, target.url], { 'dry-run': true });
    assert.equal(dryRun.code, EXIT.ok, dryRun.err);
    const src = open(source, 'src-pw');
    const keys = await src.dbsize().finally(() => src.disconnect());
    assert.equal(dryRun.out, `dry run: ${keys - 1} of ${keys} keys would be copied; 1 already on the target would be left alone (--replace overwrites them); nothing was written`);
    const dst = open(target, 'dst-pw');
    try {
      assert.equal(await dst.dbsize(), 1);
    } finally {
      dst.disconnect();
    }
    assert.ok(!`${dryRun.out}${dryRun.err}`.includes('src-pw') && !`${dryRun.out}${dryRun.err}`.includes('dst-pw'), 'no password in the output');
    assert.match(dryRun.err, /^checking redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ → redis:\/\/:\*\*\*@127\.0\.0\.1:\d+…$/);
  });

  it('copies every key of database 0 with its TTL; a key the target has is left alone and counted; --replace overwrites it', async () => {
    const copied = await copy([source.url, target.url]);
    assert.equal(copied.code, EXIT.ok, copied.err);
    const src = open(source, 'src-pw');
    const dst = open(target, 'dst-pw');
    try {
      const expected = await keyspace(src, [0]);
      assert.match(copied.out, new RegExp(`^${expected.size - 1} keys copied \\(${expected.size - 1} with RESTORE, 0 by type\\); 1 already on the target, left alone \\(--replace overwrites them\\)$`));
      assert.equal(await dst.get('k:5'), 'the target keeps its own');
      const kept = `0/${Buffer.from('k:5').toString('hex')}`;
      const actual = await keyspace(dst, [0]);
      actual.delete(kept);
      expected.delete(kept);
      assertSameKeyspace(actual, expected);

      const replaced = await copy([source.url, target.url], { match: 'k:5', replace: true });
      assert.equal(replaced.code, EXIT.ok, replaced.err);
      assert.equal(replaced.out, '1 keys copied (1 with RESTORE, 0 by type)');
      assert.equal(await dst.get('k:5'), 'value-5');
    } finally {
      src.disconnect();
      dst.disconnect();
    }
  });

  it('a key the target refuses (its ACL) is named with the cause, the others are copied, exit 1', async () => {
    const src = open(source, 'src-pw');
    await src.mset('secret:x1', 'not for them', 'k:x1', 'for them').finally(() => src.disconnect());
    const result = await copy([source.url, `redis://limited:lim-pw@127.0.0.1:${limited.port}`], { match: '*:x1' });
    assert.equal(result.code, EXIT.failure, result.err);
    const lines = result.out.split('\n');
    assert.equal(lines[0], '1 keys copied (1 with RESTORE, 0 by type); 1 failed');
    assert.match(lines[1]!, /^key "secret:x1": RESTORE: NOPERM .*; by type: NOPERM /);
    const dst = new Redis({ port: limited.port, username: 'limited', password: 'lim-pw' });
    try {
      assert.equal(await dst.get('k:x1'), 'for them');
    } finally {
      dst.disconnect();
    }
  });

  it('a wrong password and a closed port: exit 1 naming the cause, no password printed', async () => {
    const wrong = await copy([`redis://:not-it@127.0.0.1:${source.port}`, target.url]);
    assert.equal(wrong.code, EXIT.failure);
    assert.match(wrong.err.split('\n').at(-1)!, /^redis copy: WRONGPASS invalid username-password pair/);
    assert.ok(!wrong.err.includes('not-it'));
    const port = await freePort();
    const closed = await copy([source.url, `redis://:dst-pw@127.0.0.1:${port}`]);
    assert.equal(closed.code, EXIT.failure);
    assert.match(closed.err.split('\n').at(-1)!, new RegExp(`^redis copy: connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\(nothing listens on`));
    const usage = await copy([source.url]);
    assert.equal(usage.code, EXIT.usage);
  });
});
