import assert from 'node:assert/strict';
import { test } from 'node:test';
import { advance, INITIAL_STATE, type ProbeState } from '../../../src/modules/probes/state.js';

function run(results: boolean[], thresholds = { failuresBeforeDown: 1, successesBeforeUp: 1 }): string[] {
  let state: ProbeState = INITIAL_STATE;
  return results.map((ok) => (state = advance(state, ok, thresholds)).status);
}

test('the first result decides at once, whatever the thresholds', () => {
  assert.deepEqual(run([true], { failuresBeforeDown: 3, successesBeforeUp: 3 }), ['up']);
  assert.deepEqual(run([false], { failuresBeforeDown: 3, successesBeforeUp: 3 }), ['down']);
});

test('with thresholds of 1 every result switches', () => {
  assert.deepEqual(run([true, false, true, false]), ['up', 'down', 'up', 'down']);
});

test('failuresBeforeDown damps short failures', () => {
  const thresholds = { failuresBeforeDown: 3, successesBeforeUp: 1 };
  assert.deepEqual(run([true, false, false, true, false, false, false], thresholds), ['up', 'up', 'up', 'up', 'up', 'up', 'down']);
});

test('successesBeforeUp needs consecutive successes', () => {
  const thresholds = { failuresBeforeDown: 1, successesBeforeUp: 2 };
  assert.deepEqual(run([false, true, false, true, true], thresholds), ['down', 'down', 'down', 'down', 'up']);
});

test('counters track consecutive results', () => {
  const state = [false, false, true, true, true].reduce((s, ok) => advance(s, ok, { failuresBeforeDown: 1, successesBeforeUp: 5 }), INITIAL_STATE);
  assert.deepEqual(state, { status: 'down', consecutiveFailures: 0, consecutiveSuccesses: 3 });
});
