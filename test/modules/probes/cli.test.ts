import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, EXIT, type CommandContext } from '../../../src/agent/kit/cli.js';
import { probesCommand } from '../../../src/modules/probes/cli.js';
import type { ProbeView } from '../../../src/modules/probes/probe.js';

function view(name: string, status: ProbeView['status'], reason: ProbeView['last'] extends infer L ? (L extends { reason: infer R } ? R : never) : never, message: string): ProbeView {
  return {
    name,
    kind: 'redis',
    target: 'redis://127.0.0.1:6379',
    critical: false,
    intervalMs: 15_000,
    timeoutMs: 2_000,
    status,
    up: status === 'up',
    since: '2026-01-01T00:00:00.000Z',
    consecutiveFailures: 0,
    consecutiveSuccesses: 1,
    last: { ok: status === 'up', reason, message, latencyMs: 1.234, loopLateMs: 0, at: '2026-01-01T00:00:00.000Z', details: {} },
    lastSuccessAt: null,
    nextCheckAt: null,
    recentLatencyMs: [],
  };
}

function context(args: string[], answers: Record<string, unknown>, json = false, flags: CommandContext['flags'] = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const requested: string[] = [];
  const ctx: CommandContext = {
    args,
    flags,
    json,
    client: {
      async get<T>(path: string): Promise<T> {
        requested.push(path);
        if (!(path in answers)) throw new ApiError(404, 'not_found', `no probe named '${path.split('/').pop()}'`, {});
        return answers[path] as T;
      },
      async post<T>(path: string): Promise<T> {
        requested.push(`POST ${path}`);
        if (!(path in answers)) throw new Error(`unexpected POST ${path}`);
        return answers[path] as T;
      },
    },
    loadSection: async () => [],
    configPath: '/nonexistent/caretaker.yaml',
    stateDir: async () => {
      throw new Error('this test has no state dir');
    },
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    confirm: async () => false,
  };
  return { ctx, out, err, requested };
}

test('a table of every probe; exit 0 when all are up', async () => {
  const { ctx, out } = context([], { '/probes': { probes: [view('cache', 'up', 'ok', 'master answered')] } });
  assert.equal(await probesCommand.run(ctx), EXIT.ok);
  assert.deepEqual(out[0]!.split('\n'), [
    'NAME   KIND   UP   LATENCY  REASON  MESSAGE',
    'cache  redis  yes  1.2 ms   ok      master answered',
  ]);
});

test('exit 1 when any probe is down', async () => {
  const { ctx, out } = context([], {
    '/probes': { probes: [view('cache', 'up', 'ok', 'fine'), view('db', 'down', 'refused', 'connect ECONNREFUSED')] },
  });
  assert.equal(await probesCommand.run(ctx), EXIT.failure);
  assert.match(out[0]!, /^db +redis +NO +1\.2 ms +refused +connect ECONNREFUSED$/m);
});

test('one probe by name, as JSON', async () => {
  const { ctx, out, requested } = context(['my db'], { '/probes/my%20db': view('my db', 'down', 'auth', 'WRONGPASS') }, true);
  assert.equal(await probesCommand.run(ctx), EXIT.failure);
  assert.deepEqual(requested, ['/probes/my%20db']);
  assert.equal((JSON.parse(out[0]!) as ProbeView).last?.reason, 'auth');
});

test('an unknown name surfaces the API error; extra arguments are a usage error', async () => {
  await assert.rejects(probesCommand.run(context(['nope'], {}).ctx), { name: 'ApiError', status: 404 });
  const { ctx, err } = context(['a', 'b'], {});
  assert.equal(await probesCommand.run(ctx), EXIT.usage);
  assert.match(err[0]!, /usage: caretaker probes/);
});

test('--now checks each probe first and shows the fresh results', async () => {
  const { ctx, out, requested } = context(
    [],
    {
      '/probes': { probes: [view('cache', 'down', 'refused', 'stale'), view('db', 'up', 'ok', 'fine')] },
      '/probes/cache/check': view('cache', 'up', 'ok', 'master answered'),
      '/probes/db/check': view('db', 'up', 'ok', 'fine'),
    },
    false,
    { now: true },
  );
  assert.equal(await probesCommand.run(ctx), EXIT.ok, 'the fresh result decides the exit code');
  assert.deepEqual(requested, ['/probes', 'POST /probes/cache/check', 'POST /probes/db/check']);
  assert.match(out[0]!, /^cache +redis +yes .* master answered$/m);
});
