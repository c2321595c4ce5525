import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ConditionEvent } from '../../../src/agent/kit/conditions.js';
import { configSchema } from '../../../src/modules/logs/config.js';
import { makeFixture } from './setup.js';

test('logs:<set>:rotation fires when the reopen command fails, is resolved by the next good rotation and by removing the set', async (t) => {
  const set = (dir: string, command: string) => ({ name: 'app', paths: [join(dir, 'app.log')], rotate: { maxSize: '1B' }, reopen: { command } });
  const f = await makeFixture((dir) => [set(dir, 'echo nope >&2; exit 3')]);
  t.after(() => f.cleanup());
  const events: ConditionEvent[] = [];
  f.tc.conditions.watch((e) => events.push(e));
  await writeFile(join(f.dir, 'app.log'), 'one\n');
  await f.rotator.start();
  await f.tick();
  const fired = f.tc.conditions.firing();
  assert.deepEqual(fired.map((e) => e.key), ['logs:app:rotation']);
  assert.equal(fired[0]!.severity, 'warning');
  assert.equal(fired[0]!.summary, 'rotation of app failed');
  assert.equal(fired[0]!.item, 'app');
  assert.match(fired[0]!.detail, /reopen: .*exited with 3: nope/);

  // A second failure is the same condition: nothing new is passed on.
  await writeFile(join(f.dir, 'app.log'), 'two\n');
  await f.tick();
  assert.equal(events.filter((e) => e.status === 'firing').length, 1);

  await f.rotator.reload(configSchema.parse([set(f.dir, 'true')]));
  await writeFile(join(f.dir, 'app.log'), 'three\n');
  await f.tick();
  assert.deepEqual(f.tc.conditions.firing(), []);
  assert.equal(events.at(-1)?.status, 'resolved');

  await f.rotator.reload(configSchema.parse([set(f.dir, 'exit 1')]));
  await writeFile(join(f.dir, 'app.log'), 'four\n');
  await f.tick();
  assert.equal(f.tc.conditions.firing().length, 1);
  await f.rotator.reload([]);
  assert.deepEqual(f.tc.conditions.firing(), [], 'a removed set has its condition resolved');
});
