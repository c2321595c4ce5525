import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import pino from 'pino';
import { exposeGc, HeapTrimmer, type HeapNumbers } from '../../src/agent/heap-trim.js';

const MiB = 1024 * 1024;
const silent = pino({ level: 'silent' });

/** A heap whose size the test sets; collecting leaves `live` bytes used and shrinks it to `shrinksTo`. */
function fakeHeap(start: HeapNumbers) {
  const heap = { ...start, live: start.used, shrinksTo: start.total, collections: 0 };
  return {
    heap,
    collect: () => {
      heap.collections++;
      heap.used = heap.live;
      heap.total = heap.shrinksTo;
    },
    read: () => ({ total: heap.total, used: heap.used }),
  };
}

test('the first check collects (start-up garbage), later ones only once the heap grew past the last live size', () => {
  const fake = fakeHeap({ total: 34 * MiB, used: 28 * MiB });
  fake.heap.live = 20 * MiB;
  fake.heap.shrinksTo = 22 * MiB;
  const trimmer = new HeapTrimmer(silent, fake.collect, fake.read);

  assert.equal(trimmer.check(), true);
  assert.equal(fake.heap.collections, 1);

  // Steady: young generation and a little old-space slack, within max(4 MiB, 25 % of 20 MiB) = 5 MiB.
  fake.heap.total = 24.9 * MiB;
  assert.equal(trimmer.check(), false);
  assert.equal(fake.heap.collections, 1);

  // A burst grew the heap.
  fake.heap.total = 38 * MiB;
  fake.heap.used = 31 * MiB;
  assert.equal(trimmer.check(), true);
  assert.equal(fake.heap.collections, 2);
  assert.equal(trimmer.check(), false, 'shrunk back: nothing to do');
});

test('a small heap needs 4 MiB of growth, not a quarter of itself', () => {
  const fake = fakeHeap({ total: 8 * MiB, used: 8 * MiB });
  fake.heap.live = 6 * MiB;
  fake.heap.shrinksTo = 7 * MiB;
  const trimmer = new HeapTrimmer(silent, fake.collect, fake.read);
  trimmer.check();
  fake.heap.total = 9.9 * MiB;
  assert.equal(trimmer.check(), false);
  fake.heap.total = 10.1 * MiB;
  assert.equal(trimmer.check(), true);
});

test('exposeGc gives a working full collection in a process started without --expose-gc', () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'this test runs without --expose-gc');
  const gc = exposeGc();
  assert.equal(typeof gc, 'function');
  gc();
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'our own global is left as it was');
});

test('a real burst of garbage is given back by one check', () => {
  const trimmer = new HeapTrimmer(silent);
  trimmer.check();
  const baseline = v8.getHeapStatistics().total_heap_size;
  let keep: unknown[][] = [];
  for (let round = 0; round < 40; round++) keep.push(Array.from({ length: 10_000 }, (_, i) => ({ i, text: `row ${i} of round ${round}` })));
  const kept = keep.length;
  keep = [];
  const grown = v8.getHeapStatistics().total_heap_size;
  assert.ok(grown > baseline + 4 * MiB, `the burst grew the heap (${(baseline / MiB).toFixed(1)} -> ${(grown / MiB).toFixed(1)} MiB)`);
  assert.equal(trimmer.check(), true);
  const after = v8.getHeapStatistics().total_heap_size;
  assert.ok(after < grown, `heap ${(grown / MiB).toFixed(1)} -> ${(after / MiB).toFixed(1)} MiB`);
  assert.equal(kept, 40);
});
