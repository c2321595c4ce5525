import { constants } from 'node:fs';
import { open, rename, unlink, lstat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDir, tempPathFor } from '../../agent/kit/atomic-file.js';
import { GzipPool, type Member } from './gzip-pool.js';

/** Input block compressed as one gzip member; large enough that the ratio loss is negligible. */
const BLOCK_BYTES = 4 * 1024 * 1024;

export interface CompressResult {
  inBytes: number;
  outBytes: number;
}

/**
 * Gzips `source` into `target` and removes `source`. Blocks are compressed as independent gzip
 * members by low-priority worker threads (gzip-pool.ts), one per core, and written in order: the
 * output is one valid .gz (gzip, zcat and zlib read concatenated members), the event loop only
 * moves buffers, and the work spreads over cores like pigz. The target appears only complete
 * (temp file, fsync, rename); on abort or error the temp file is deleted and `source` is kept.
 */
export async function gzipFile(source: string, target: string, options: { level: number; signal: AbortSignal }): Promise<CompressResult> {
  const input = await open(source, constants.O_RDONLY | constants.O_NOFOLLOW);
  const temp = tempPathFor(target);
  try {
    const info = await input.stat();
    if (!info.isFile()) throw new Error(`${source} is not a regular file`);
    const output = await open(temp, 'wx', info.mode & 0o7777);
    const pool = new GzipPool();
    const abort = () => void pool.close();
    options.signal.addEventListener('abort', abort, { once: true });
    let outBytes = 0;
    let offset = 0;
    try {
      // Rotated files are complete (the writer let go before compression starts), so the size is fixed.
      const blocks = Math.max(1, Math.ceil(info.size / BLOCK_BYTES));
      const pending: Array<Promise<Member>> = [];
      let next = 0;
      const refill = () => {
        while (next < blocks && pending.length < pool.size * 2) {
          const member = pool.gzip(input.fd, next * BLOCK_BYTES, BLOCK_BYTES, options.level);
          // Awaited in order below; this only keeps a failure of a later block from being reported as unhandled.
          member.catch(() => undefined);
          pending.push(member);
          next++;
        }
      };
      refill();
      while (pending.length > 0) {
        options.signal.throwIfAborted();
        const { read, member } = await pending.shift()!;
        refill();
        await output.write(member, 0, member.length, outBytes);
        outBytes += member.length;
        offset += read;
      }
      // Something appended meanwhile: keep the source rather than lose the tail; retried at the next check.
      if ((await input.stat()).size !== offset) throw new Error(`${source} changed while it was being compressed`);
      await output.chown(info.uid, info.gid);
      await output.utimes(info.atime, info.mtime);
      await output.sync();
    } finally {
      options.signal.removeEventListener('abort', abort);
      await pool.close();
      await output.close();
    }
    options.signal.throwIfAborted();
    // Never replace a file we did not write: the target name must still be free.
    if (await lstat(target).then(() => true, () => false)) throw new Error(`${target} already exists`);
    await rename(temp, target);
    await fsyncDir(dirname(target));
    await unlink(source);
    return { inBytes: offset, outBytes };
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  } finally {
    await input.close();
  }
}
