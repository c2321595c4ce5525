// caretaker-test: run-alone (it measures how late the event loop runs, which other tests' load would distort)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchLoopDelay } from '../../../src/agent/kit/loop-delay.js';

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the loop is held here, as a flood of requests or a long collection would hold it
  }
}

test('an idle loop is not late; a loop held for 300 ms is about 300 ms late', async () => {
  const idle = watchLoopDelay();
  await sleep(300);
  idle.close();
  assert.ok(idle.lateMs() < 30, `idle loop reported ${idle.lateMs()} ms late`);

  const held = watchLoopDelay();
  await sleep(50);
  busy(300);
  await sleep(50);
  held.close();
  assert.ok(held.lateMs() >= 250 && held.lateMs() <= 400, `held loop reported ${held.lateMs()} ms late`);
});

test('lateness before a window opens is not counted in it, and a closed window stays frozen', async () => {
  const outer = watchLoopDelay();
  await sleep(30);
  busy(200);
  // Opened while the loop is still 200 ms behind: that delay is the outer window's, not this one's.
  const inner = watchLoopDelay();
  await sleep(100);
  inner.close();
  outer.close();
  assert.ok(inner.lateMs() < 30, `inner window counted ${inner.lateMs()} ms of earlier delay`);
  assert.ok(outer.lateMs() >= 150, `outer window saw only ${outer.lateMs()} ms`);
  const frozen = inner.lateMs();
  busy(100);
  await sleep(30);
  assert.equal(inner.lateMs(), frozen);
});
