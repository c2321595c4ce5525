import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffByName } from '../../../src/agent/kit/named.js';

test('diffByName sorts items into added, removed, changed and unchanged', () => {
  const diff = diffByName(
    [{ name: 'a', v: 1 }, { name: 'b', v: 1 }, { name: 'c', v: 1 }],
    [{ name: 'b', v: 2 }, { name: 'c', v: 1 }, { name: 'd', v: 1 }],
  );
  assert.deepEqual(diff.added.map((i) => i.name), ['d']);
  assert.deepEqual(diff.removed.map((i) => i.name), ['a']);
  assert.deepEqual(diff.changed.map(([o, n]) => [o.v, n.v]), [[1, 2]]);
  assert.deepEqual(diff.unchanged.map((i) => i.name), ['c']);
});
