import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import pino from 'pino';
import { ModuleScheduler } from '../../../src/agent/scheduler.js';

const log = pino({ level: 'silent' });

test('an interval task never overlaps itself and skipped ticks are counted', async () => {
  const controller = new AbortController();
  const scheduler = new ModuleScheduler(log, controller.signal);
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const task = scheduler.schedule({ name: 'slow', everyMs: 10, runAtStart: true }, async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    runs++;
    await sleep(40);
    running--;
  });
  await sleep(20);
  assert.equal(await task.runNow(), false, 'runNow while running is skipped');
  assert.equal(running, 0, 'and resolves once the run in flight has ended');
  await sleep(150);
  scheduler.cancelAll();
  assert.equal(maxRunning, 1);
  assert.ok(runs >= 2);
  assert.ok(task.skipped >= 1);
  assert.equal(task.nextRun(), null);
});

test('cancelAll leaves no timer behind and work sees the abort signal', async () => {
  const controller = new AbortController();
  const scheduler = new ModuleScheduler(log, controller.signal);
  let aborted = false;
  scheduler.schedule({ name: 'cron', cron: '* * * * *' }, async () => undefined);
  const task = scheduler.schedule({ name: 'wait', everyMs: 60_000 }, async (signal) => {
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    aborted = true;
  });
  assert.ok(scheduler.nextRuns().every((r) => r.next !== null));
  const run = task.runNow();
  controller.abort();
  scheduler.cancelAll();
  await run;
  assert.equal(aborted, true);
  assert.deepEqual(scheduler.nextRuns(), []);
});

test('a task that throws is logged and the schedule goes on', async () => {
  const scheduler = new ModuleScheduler(log, new AbortController().signal);
  let calls = 0;
  const task = scheduler.schedule({ name: 'boom', everyMs: 60_000 }, async () => {
    calls++;
    throw new Error('boom');
  });
  assert.equal(await task.runNow(), true);
  assert.equal(await task.runNow(), true);
  assert.equal(calls, 2);
  scheduler.cancelAll();
});


test('a cron task fires on its second, shows the next one, and stops at cancel', async () => {
  const scheduler = new ModuleScheduler(log, new AbortController().signal);
  const fired: number[] = [];
  const task = scheduler.schedule({ name: 'every-second', cron: '* * * * * *', timezone: 'UTC' }, async () => {
    fired.push(Date.now());
  });
  const next = task.nextRun()!.getTime();
  assert.equal(next % 1000, 0, 'on a whole second');
  assert.ok(next > Date.now() && next <= Date.now() + 1000);
  await sleep(2_300);
  assert.ok(fired.length >= 2, `fired ${fired.length} times in 2.3 s`);
  assert.ok(fired.every((at) => at % 1000 < 500), `late: ${fired.map((at) => at % 1000).join(', ')} ms past the second`);
  assert.ok(task.nextRun()!.getTime() > fired.at(-1)!);
  scheduler.cancelAll();
  const count = fired.length;
  await sleep(1_200);
  assert.equal(fired.length, count);
});
