import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { acquireLock, LockHeldError } from '../../../src/modules/certificates/lock.js';

let tmp: TempDir;
before(async () => {
  tmp = await makeTempDir('certs-lock');
});
after(async () => tmp?.cleanup());

test('one holder at a time; released locks and dead owners free it', async () => {
  const dir = path.join(tmp.path, 'locks');
  const lock = await acquireLock(dir, 'web');
  await assert.rejects(acquireLock(dir, 'web'), LockHeldError);
  const other = await acquireLock(dir, 'api');
  await lock.release();
  await lock.release();
  const again = await acquireLock(dir, 'web');
  await again.release();
  await other.release();
  assert.deepEqual(await readdir(dir), []);

  // A pid that no longer exists (kill -9) is stale: taken over.
  const dead = spawn('true');
  await new Promise((resolve) => dead.once('exit', resolve));
  await writeFile(path.join(dir, 'web.lock'), `${dead.pid}\n`);
  const taken = await acquireLock(dir, 'web');
  await taken.release();

  // A live pid holds it.
  const alive = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'web.lock'), `${alive.pid}\n`);
    await assert.rejects(acquireLock(dir, 'web'), (err: unknown) => err instanceof LockHeldError && err.pid === alive.pid);
  } finally {
    alive.kill('SIGKILL');
  }
});
