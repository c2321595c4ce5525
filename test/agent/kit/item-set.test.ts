import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import pino from 'pino';
import { Writable } from 'node:stream';
import { ItemSet, type ItemEntry, type LabelSet } from '../../../src/agent/kit/item-set.js';
import { createTestContext } from '../../helpers/module-context.js';

interface Cfg {
  name: string;
  value: number;
}

/** An item that records whether it was closed and which item it replaced. */
class Thing {
  closed = false;
  constructor(
    readonly config: Cfg,
    readonly previous?: Thing,
  ) {}
}

async function makeSet(options: { update?: boolean; refuse?: string } = {}) {
  const test = await createTestContext('items');
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  test.ctx.log = pino(sink).child({ module: 'items' });
  const metrics = {
    runs: test.registrar.counter({ name: 'caretaker_test_runs_total', help: 'h', labelNames: ['item', 'result'] }),
    last: test.registrar.gauge({ name: 'caretaker_test_last', help: 'h', labelNames: ['item'] }),
  };
  const skips: string[] = [];
  const items = new ItemSet<Cfg, Thing>({
    ctx: test.ctx,
    noun: 'thing',
    logKey: 'thing',
    runName: 'chore',
    create: (c, _handle, previous) => {
      if (c.name === options.refuse) throw new Error(`cannot make ${c.name}`);
      return new Thing(c, previous);
    },
    ...(options.update ? { update: (_item: Thing, next: Cfg) => new Thing(next) } : {}),
    close: async (thing) => {
      thing.closed = true;
    },
    labelSets: (c): LabelSet[] => [
      { metric: metrics.runs, labels: { item: c.name, result: 'success' }, zero: true },
      // The value decides a label set, so a changed config swaps one set for another.
      { metric: metrics.runs, labels: { item: c.name, result: `v${c.value}` }, zero: true },
      { metric: metrics.last, labels: { item: c.name } },
    ],
    onSkipped: (e) => skips.push(e.name),
  });
  const samples = async () =>
    ((await test.registry.getSingleMetric('caretaker_test_runs_total')?.get())?.values ?? []).map((v) => `${v.labels.item}/${v.labels.result}=${v.value}`).sort();
  return { test, items, metrics, lines, skips, samples };
}

/** Work that runs until `release()` or until the item's signal aborts. */
function hanging() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const work = (entry: ItemEntry<Cfg, Thing>) =>
    new Promise<string>((resolve, reject) => {
      void released.then(() => resolve('done'));
      entry.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
  return { work, release };
}

test('apply diffs by name: added, removed, changed (replaced, old one closed and handed over), unchanged kept', async () => {
  const { test: t, items } = await makeSet();
  try {
    for (const c of [{ name: 'a', value: 1 }, { name: 'b', value: 1 }, { name: 'c', value: 1 }]) items.add(c);
    const a = items.get('a').item;
    const b = items.get('b').item;
    const diff = await items.apply([{ name: 'a', value: 1 }, { name: 'b', value: 2 }, { name: 'd', value: 1 }]);
    assert.deepEqual(
      { added: diff.added.map((c) => c.name), removed: diff.removed.map((c) => c.name), changed: diff.changed.map(([, c]) => c.name), unchanged: diff.unchanged.map((c) => c.name) },
      { added: ['d'], removed: ['c'], changed: ['b'], unchanged: ['a'] },
    );
    assert.equal(items.get('a').item, a, 'unchanged item untouched');
    assert.equal(items.get('b').item.previous, b, 'the replacement is handed the old item');
    assert.equal(b.closed, true);
    assert.deepEqual(items.values().map((e) => e.name).sort(), ['a', 'b', 'd']);
    assert.throws(() => items.get('c'), { name: 'NotFoundError', message: "no thing named 'c'" });
  } finally {
    await items.stop();
    await t.dispose();
  }
});

test('label sets: zeroed at add, swapped on change, removed at remove and at stop', async () => {
  const { test: t, items, metrics, samples } = await makeSet({ update: true });
  try {
    items.add({ name: 'a', value: 1 });
    items.add({ name: 'b', value: 1 });
    metrics.runs.inc({ item: 'a', result: 'success' }, 5);
    metrics.last.set({ item: 'b' }, 7);
    assert.deepEqual(await samples(), ['a/success=5', 'a/v1=0', 'b/success=0', 'b/v1=0']);
    await items.apply([{ name: 'a', value: 2 }, { name: 'b', value: 1 }]);
    assert.deepEqual(await samples(), ['a/success=5', 'a/v2=0', 'b/success=0', 'b/v1=0'], 'a change keeps shared sets and their values');
    await items.apply([{ name: 'a', value: 2 }]);
    assert.deepEqual(await samples(), ['a/success=5', 'a/v2=0']);
    assert.equal((await t.registry.getSingleMetric('caretaker_test_last')?.get())?.values.length, 0, 'a gauge that was set is removed too');
    await items.stop();
    assert.deepEqual(await samples(), []);
  } finally {
    await t.dispose();
  }
});

test('single flight: a second run while one is in flight is a 409 naming its start; the next one runs', async () => {
  const { test: t, items } = await makeSet();
  try {
    items.add({ name: 'a', value: 1 });
    const { work, release } = hanging();
    const run = items.begin('a', 'manual', work);
    assert.equal(items.get('a').busy, true);
    assert.throws(() => items.begin('a', 'manual', work), (err: Error & { status?: number }) => {
      assert.equal(err.status, 409);
      assert.match(err.message, /^thing 'a' is already running \(started \d{4}-\d\d-\d\dT.*Z by manual\)$/);
      return true;
    });
    release();
    assert.equal(await run.done, 'done');
    assert.equal(items.get('a').busy, false);
    assert.equal(await items.begin('a', 'manual', async () => 'again').done, 'again');
  } finally {
    await items.stop();
    await t.dispose();
  }
});

test('a scheduled run that finds the item busy is skipped, counted, warned and reported to the module', async () => {
  const { test: t, items, skips, lines } = await makeSet();
  try {
    items.add({ name: 'a', value: 1 });
    const { work, release } = hanging();
    const run = items.begin('a', 'manual', work);
    let ran = 0;
    items.schedule('a', { name: 'tick', everyMs: 20, runAtStart: true }, async () => {
      ran++;
    });
    await sleep(70);
    const skipped = items.get('a').skipped;
    assert.ok(skipped >= 2, `skipped ${skipped}`);
    assert.equal(ran, 0);
    assert.equal(skips.length, skipped);
    const warn = lines.find((l) => l.msg === 'scheduled chore skipped: previous run still in progress');
    assert.equal(warn?.thing, 'a');
    release();
    await run.done;
    await sleep(50);
    assert.ok(ran >= 1, 'runs again once the item is free');
  } finally {
    await items.stop();
    await t.dispose();
  }
});

test('remove aborts the item’s run quietly; stop aborts every run, says so once per item, and refuses new runs', async () => {
  const { test: t, items, lines } = await makeSet();
  try {
    items.add({ name: 'gone', value: 1 });
    items.add({ name: 'a', value: 1 });
    items.add({ name: 'b', value: 1 });
    const gone = items.begin('gone', 'manual', hanging().work);
    const gonePending = assert.rejects(gone.done, /aborted/);
    const thing = items.get('gone').item;
    await items.apply([{ name: 'a', value: 1 }, { name: 'b', value: 1 }]);
    await gonePending;
    assert.equal(thing.closed, true);
    assert.equal(lines.filter((l) => String(l.msg).includes('aborted')).length, 0, 'a removal is not a stop');

    const a = items.begin('a', 'schedule', hanging().work);
    const b = items.begin('b', 'manual', hanging().work);
    const pending = Promise.allSettled([a.done, b.done]);
    // The agent aborts ctx.signal first, then calls the module's stop.
    await t.dispose();
    await items.stop();
    assert.deepEqual((await pending).map((r) => r.status), ['rejected', 'rejected']);
    assert.deepEqual(
      lines.filter((l) => String(l.msg).includes('aborted')).map((l) => [l.level, l.thing, l.msg]).sort(),
      [
        [30, 'a', 'chore aborted: stopping'],
        [30, 'b', 'chore aborted: stopping'],
      ],
    );
    assert.equal(items.size, 0);
    await items.stop(); // idempotent
  } finally {
    await t.dispose();
  }
});

test('an item’s signal is aborted by the module’s signal alone (the agent aborts it when stop begins)', async () => {
  const { test: t, items } = await makeSet();
  items.add({ name: 'a', value: 1 });
  const run = items.begin('a', 'manual', hanging().work);
  const rejected = assert.rejects(run.done, /aborted/);
  await t.dispose();
  await rejected;
  assert.equal(items.get('a').signal.aborted, true);
  await items.stop();
});

test('apply is all or nothing: a create that throws leaves every item, its work and its label sets as they were', async () => {
  const { test: tc, items, samples } = await makeSet({ refuse: 'new' });
  try {
    items.add({ name: 'kept', value: 1 });
    items.add({ name: 'gone', value: 1 });
    const gone = items.get('gone');
    const before = await samples();
    await assert.rejects(items.apply([{ name: 'kept', value: 2 }, { name: 'new', value: 1 }]), /cannot make new/);
    assert.deepEqual(items.configs(), [{ name: 'kept', value: 1 }, { name: 'gone', value: 1 }]);
    assert.equal(items.get('gone'), gone);
    assert.equal(gone.signal.aborted, false, 'the item that would have been removed still runs');
    assert.equal(items.get('kept').item.closed, false);
    assert.deepEqual(await samples(), before);
  } finally {
    await items.stop();
    await tc.dispose();
  }
});
