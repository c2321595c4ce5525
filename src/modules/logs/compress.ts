import { constants } from 'node:fs';
import { open, rename, unlink, lstat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { dirname } from 'node:path';
import { fsyncDir, tempPathFor } from '../../agent/kit/atomic-file.js';

const gzipAsync = promisify(gzip);

/** Input block compressed as one gzip member; large enough that the ratio loss is negligible. */
const BLOCK_BYTES = 4 * 1024 * 1024;

/**
 * Blocks in flight at once. zlib runs on libuv's threadpool (4 threads by default): leave at least
 * one thread for file system calls so the rest of the agent is never starved.
 */
const PARALLEL_BLOCKS = Math.max(1, Math.min(3, availableParallelism()));

export interface CompressResult {
  inBytes: number;
  outBytes: number;
}

/**
 * Gzips `source` into `target` and removes `source`. Blocks are compressed as independent gzip
 * members on the threadpool, a few at a time, and written in order: the output is one valid .gz
 * (gzip, zcat and zlib read concatenated members), the event loop only moves buffers, and the work
 * spreads over cores like pigz. The target appears only complete (temp file, fsync, rename); on
 * abort or error the temp file is deleted and `source` is left alone.
 */
export async function gzipFile(source: string, target: string, options: { level: number; signal: AbortSignal }): Promise<CompressResult> {
  const input = await open(source, constants.O_RDONLY | constants.O_NOFOLLOW);
  const temp = tempPathFor(target);
  try {
    const info = await input.stat();
    if (!info.isFile()) throw new Error(`${source} is not a regular file`);
    const output = await open(temp, 'wx', info.mode & 0o7777);
    let outBytes = 0;
    let offset = 0;
    try {
      const pending: Array<Promise<Buffer>> = [];
      let eof = false;
      const readBlock = async (): Promise<Buffer | undefined> => {
        const buffer = Buffer.allocUnsafe(BLOCK_BYTES);
        const { bytesRead } = await input.read(buffer, 0, BLOCK_BYTES, offset);
        if (bytesRead === 0) return undefined;
        offset += bytesRead;
        return buffer.subarray(0, bytesRead);
      };
      const refill = async () => {
        while (!eof && pending.length < PARALLEL_BLOCKS) {
          const block = await readBlock();
          if (!block) eof = true;
          else {
            const member = gzipAsync(block, { level: options.level });
            // Awaited in order below; this only keeps a failure of a later block from being reported as unhandled.
            member.catch(() => undefined);
            pending.push(member);
          }
        }
      };
      await refill();
      while (pending.length > 0) {
        options.signal.throwIfAborted();
        const member = await pending.shift()!;
        await refill();
        await output.write(member, 0, member.length, outBytes);
        outBytes += member.length;
      }
      if (offset === 0) {
        const empty = await gzipAsync(Buffer.alloc(0), { level: options.level });
        await output.write(empty, 0, empty.length, 0);
        outBytes = empty.length;
      }
      await output.chown(info.uid, info.gid);
      await output.utimes(info.atime, info.mtime);
      await output.sync();
    } finally {
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
