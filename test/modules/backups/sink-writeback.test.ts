import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { FileSink } from '../../../src/modules/backups/sink.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';

/**
 * Dirty page-cache pages of a file, by the cachestat(2) system call (Linux 6.5+, number 451 on x86-64), or
 * undefined where the kernel lacks it.
 */
function dirtyPages(path: string): number | undefined {
  const script = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
rng = (ctypes.c_uint64 * 2)(0, 0)
st = (ctypes.c_uint64 * 5)()
if libc.syscall(451, fd, rng, st, 0) != 0:
    print('unsupported')
else:
    print(st[1])
`;
  const out = execFileSync('python3', ['-c', script, path], { encoding: 'utf8' }).trim();
  return out === 'unsupported' ? undefined : Number(out);
}

const hasCachestat = process.arch === 'x64' && (() => {
  try {
    return dirtyPages('/proc/self/exe') !== undefined;
  } catch {
    return false;
  }
})();

describe('FileSink handed to a child process', () => {
  let dir: TempDir;
  before(async () => {
    dir = await makeTempDir('sink-writeback');
  });
  after(async () => {
    await dir?.cleanup();
  });

  it('writes back what the child wrote while it runs, so the final fsync has little left', { skip: !hasCachestat && 'no cachestat(2) on this kernel' }, async () => {
    const path = join(dir.path, 'dump.partial');
    const sink = await FileSink.create(path);
    const fd = sink.takeFd();
    // 32 MiB at once, then the child stays alive, as pg_dump does between tables.
    const child = spawn('sh', ['-c', 'head -c 33554432 /dev/urandom; sleep 3'], { stdio: ['ignore', fd, 'inherit'] });
    const exited = new Promise((resolve) => child.once('close', resolve));
    try {
      for (let waited = 0; (dirtyPages(path) ?? 0) < 1000 && waited < 2000; waited += 50) await sleep(50);
      // The kernel alone keeps pages dirty for 30 s (vm.dirty_expire_centisecs); the sink syncs every second.
      await sleep(2500);
      const dirty = dirtyPages(path)!;
      assert.ok(dirty < 1000, `${dirty} of 8192 pages still dirty 2.5 s after the child wrote them`);
    } finally {
      await exited;
      await sink.finish(async () => 'unused');
    }
    assert.equal(sink.bytes, 32 * 1024 * 1024);
  });
});
