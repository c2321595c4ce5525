import assert from 'node:assert/strict';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../harness/tmpdir.js';
import { chooseHeldCheck, heldOpen, QUIET_MS, recentlyWritten } from '../../../src/modules/logs/reopen.js';

test('the writer check: /proc descriptors where every process is visible (root, as the tests run), quiet otherwise', async () => {
  assert.equal(process.getuid?.(), 0, 'the suite runs as root');
  const visible = await chooseHeldCheck();
  assert.deepEqual([visible.method, visible.check], ['proc-fd', heldOpen]);
  // As the installed unit: pid 1 is hidden (ProtectProc=invisible, no CAP_SYS_PTRACE).
  const hidden = await chooseHeldCheck('/proc/does-not-exist/fd');
  assert.deepEqual([hidden.method, hidden.check], ['quiet', recentlyWritten]);
});

test('quiet check: a file written within the last second is held; an older or missing one is not', async (t) => {
  const tmp = await makeTempDir('logs-held');
  t.after(() => tmp.cleanup());
  const [fresh, old, missing] = ['fresh.log.1', 'old.log.1', 'missing.log.1'].map((name) => join(tmp.path, name)) as [string, string, string];
  await writeFile(fresh, 'now\n');
  await writeFile(old, 'then\n');
  const past = new Date(Date.now() - QUIET_MS - 500);
  await utimes(old, past, past);
  assert.deepEqual([...(await recentlyWritten(new Set([fresh, old, missing])))], [fresh]);
});
