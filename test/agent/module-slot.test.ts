import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { ModuleContext, ModuleInstance, ScheduledTask } from '../../src/agent/kit/module.js';
import { ConditionBus } from '../../src/agent/kit/conditions.js';
import { ConflictBoard } from '../../src/agent/kit/conflicts.js';
import { ClusterSlot } from '../../src/agent/kit/cluster.js';
import { createRegistrar } from '../../src/agent/kit/metrics.js';
import { ModuleSlot } from '../../src/agent/module-slot.js';
import { widgets } from '../helpers/widgets-module.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'caretaker-slot-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A widgets slot whose instance is replaced by `make`, given the context the agent built. */
function slotWith(make: (ctx: ModuleContext) => ModuleInstance<unknown>): { slot: ModuleSlot; errors: string[] } {
  const errors: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => void errors.push((JSON.parse(line) as { err: string }).err) });
  const spec = { ...widgets, create: (ctx: ModuleContext) => make(ctx) };
  return { slot: new ModuleSlot(spec, widgets.metrics(createRegistrar(new Registry())), log, new ConditionBus(), new ConflictBoard(), new ClusterSlot()), errors };
}

const idle = { reload: async () => undefined, health: () => ({ status: 'ok' as const }), status: () => null };

test('stop aborts the signal and cancels the timers before the module stop is awaited', async () => {
  const seen: { aborted?: boolean; nextRun?: Date | null } = {};
  let task: ScheduledTask | undefined;
  let ctx: ModuleContext | undefined;
  const { slot } = slotWith((given) => {
    ctx = given;
    return {
      ...idle,
      start: async () => {
        task = given.schedule({ name: 'tick', everyMs: 60_000 }, async () => undefined);
      },
      stop: async () => {
        seen.aborted = ctx!.signal.aborted;
        seen.nextRun = task!.nextRun();
      },
    };
  });
  await slot.start([], dir, 1000);
  assert.equal(slot.state, 'running');
  assert.notEqual(task!.nextRun(), null);
  assert.equal(await slot.stop(1000), undefined);
  assert.deepEqual(seen, { aborted: true, nextRun: null });
});

test('stop waits for the work the module tracked, and bounds that wait by agent.stopTimeout', async () => {
  let ctx: ModuleContext | undefined;
  let finished = false;
  const { slot } = slotWith((given) => {
    ctx = given;
    return { ...idle, start: async () => undefined, stop: async () => undefined };
  });
  await slot.start([], dir, 1000);
  // Work that ends with the signal, a little later: the stop must not return before it has ended.
  ctx!.track(
    new Promise<void>((done) => ctx!.signal.addEventListener('abort', () => setTimeout(() => ((finished = true), done()), 100))),
  );
  assert.equal(await slot.stop(1000), undefined);
  assert.equal(finished, true);

  const hung = slotWith((given) => {
    given.track(new Promise<void>(() => undefined));
    return { ...idle, start: async () => undefined, stop: async () => undefined };
  });
  await hung.slot.start([], dir, 1000);
  assert.match((await hung.slot.stop(200)) ?? '', /did not stop within 200 ms/);
});

test('a module stop that overruns agent.stopTimeout is reported and not waited for', async () => {
  const { slot, errors } = slotWith(() => ({ ...idle, start: async () => undefined, stop: () => new Promise<void>(() => undefined) }));
  await slot.start([], dir, 1000);
  const started = Date.now();
  const error = await slot.stop(200);
  const took = Date.now() - started;
  assert.equal(error, 'did not stop within 200 ms (agent.stopTimeout)');
  assert.deepEqual(errors, ['did not stop within 200 ms (agent.stopTimeout)']);
  assert.ok(took >= 190 && took < 2000, `stop took ${took} ms`);
});

test('the stop after a failed start is bounded by the stop timeout it was given', async () => {
  const { slot, errors } = slotWith(() => ({
    ...idle,
    start: async () => {
      throw new Error('refused');
    },
    stop: () => new Promise<void>(() => undefined),
  }));
  const started = Date.now();
  await slot.start([], dir, 200);
  const took = Date.now() - started;
  assert.equal(slot.state, 'failed');
  assert.equal(slot.error, 'refused');
  assert.deepEqual(errors, ['refused', 'did not stop within 200 ms (agent.stopTimeout)']);
  assert.ok(took < 2000, `start took ${took} ms`);
});
