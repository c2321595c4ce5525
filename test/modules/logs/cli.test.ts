import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, DaemonUnreachableError, EXIT, type AdminClient, type CommandContext } from '../../../src/agent/kit/cli.js';
import { logsCommand } from '../../../src/modules/logs/cli.js';

function context(args: string[], client: Partial<AdminClient>, json = false) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = {
    args,
    flags: {},
    json,
    client: { get: async () => undefined as never, post: async () => undefined as never, ...client } as AdminClient,
    loadSection: async () => undefined,
    configPath: '/nonexistent/caretaker.yaml',
    stateDir: async () => {
      throw new Error('this test has no state dir');
    },
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    confirm: async () => false,
  };
  return { ctx, out, err };
}

const status = {
  stateRebuilt: null,
  nextCheck: null,
  logs: [
    { name: 'nginx', busy: false, mode: 'reopen', lastCheck: null, lastRotation: '2026-01-10T00:00:00.000Z', lastResult: 'success', problems: [], files: [{ path: '/var/log/nginx/access.log', size: 2048, lastRotation: null, rotatedFiles: 3, pendingCompression: 0 }] },
    { name: 'bad', busy: false, mode: 'create', lastCheck: null, lastRotation: null, lastResult: null, problems: ['directory /tmp is writable by others'], files: [] },
  ],
};

test('caretaker logs: a table, exit 1 when a set has problems; --json', async () => {
  const { ctx, out } = context([], { get: async <T>() => status as T });
  assert.equal(await logsCommand.run(ctx), EXIT.failure);
  assert.match(out.join('\n'), /nginx\s+ok\s+1\s+2\.0 KiB\s+2026-01-10T00:00:00.000Z/);
  assert.match(out.join('\n'), /bad\s+problem.*writable by others/);
  const json = context([], { get: async <T>() => status as T }, true);
  await logsCommand.run(json.ctx);
  assert.deepEqual(JSON.parse(json.out.join('')), status);
});

test('caretaker logs rotate NAME posts to the API and prints what moved', async () => {
  let posted = '';
  const { ctx, out } = context(['rotate', 'nginx'], {
    post: async <T>(path: string) => {
      posted = path;
      return { log: 'nginx', result: 'success', rotated: [{ path: '/l/a.log', to: '/l/a.log-20260110T000000Z', bytes: 10 }], errors: [] } as T;
    },
  });
  assert.equal(await logsCommand.run(ctx), EXIT.ok);
  assert.equal(posted, '/logs/nginx/rotate');
  assert.deepEqual(out, ['/l/a.log -> /l/a.log-20260110T000000Z (10 B)']);
});

test('unknown set, daemon down, bad usage', async () => {
  const notFound = context(['rotate', 'x'], { post: async () => Promise.reject(new ApiError(404, 'not_found', "no log set named 'x'", {})) });
  assert.equal(await logsCommand.run(notFound.ctx), EXIT.usage);
  assert.deepEqual(notFound.err, ["no log set named 'x'"]);
  const down = context([], { get: async () => Promise.reject(new DaemonUnreachableError('127.0.0.1:9470')) });
  assert.equal(await logsCommand.run(down.ctx), EXIT.unavailable);
  const usage = context(['rotate'], {});
  assert.equal(await logsCommand.run(usage.ctx), EXIT.usage);
});
