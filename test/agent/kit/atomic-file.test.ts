import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFileAtomic } from '../../../src/agent/kit/atomic-file.js';

test('writes atomically with the requested mode and leaves no temp file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caretaker-atomic-'));
  const path = join(dir, 'key.pem');
  await writeFileAtomic(path, 'one', { mode: 0o600 });
  await writeFileAtomic(path, 'two', { mode: 0o600 });
  assert.equal(await readFile(path, 'utf8'), 'two');
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(dir), ['key.pem']);
});

test('a failed write leaves the old file and no temp file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caretaker-atomic-'));
  const path = join(dir, 'state.json');
  await writeFileAtomic(path, 'old');
  await assert.rejects(writeFileAtomic(join(dir, 'missing-dir', 'x'), 'new'));
  await assert.rejects(writeFileAtomic(path, 5 as unknown as string));
  assert.equal(await readFile(path, 'utf8'), 'old');
  assert.deepEqual(await readdir(dir), ['state.json']);
});
