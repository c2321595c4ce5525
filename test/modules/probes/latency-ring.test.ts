import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyRing, ringCapacity } from '../../../src/modules/probes/latency-ring.js';

test('the ring covers the last hour at the probe interval, at most 720 points', () => {
  assert.equal(ringCapacity(15_000), 240);
  assert.equal(ringCapacity(60_000), 60);
  assert.equal(ringCapacity(1_000), 720);
  assert.equal(ringCapacity(200), 720);
  assert.equal(ringCapacity(24 * 3600_000), 2);
});

test('the ring keeps the newest latencies oldest first, failures as null, and overwrites the oldest', () => {
  const ring = new LatencyRing(3);
  assert.deepEqual(ring.list(), []);
  ring.push(1.5);
  ring.push(null);
  assert.deepEqual(ring.list(), [1.5, null]);
  ring.push(3);
  ring.push(4);
  ring.push(5);
  assert.deepEqual(ring.list(), [3, 4, 5]);
  for (let i = 0; i < 1000; i++) ring.push(i);
  assert.equal(ring.list().length, 3);
  assert.deepEqual(ring.list(), [997, 998, 999]);
});
