import { constants } from 'node:fs';
import { open, unlink } from 'node:fs/promises';

const CHUNK_BYTES = 1024 * 1024;

/**
 * Copies the live file to `target`, then truncates the live file in place, for writers that
 * cannot reopen. Lossy by nature: whatever the writer appends between the last read and the
 * truncate is gone (logrotate's copytruncate has the same window). The copy is done in a loop up
 * to end-of-file so that window is as short as one read. Returns the bytes copied.
 */
export async function copyThenTruncate(source: string, target: string, signal: AbortSignal): Promise<number> {
  const input = await open(source, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    const info = await input.stat();
    if (!info.isFile()) throw new Error(`${source} is not a regular file`);
    const output = await open(target, 'wx', info.mode & 0o7777);
    let offset = 0;
    try {
      await output.chown(info.uid, info.gid);
      const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
      for (;;) {
        signal.throwIfAborted();
        const { bytesRead } = await input.read(buffer, 0, CHUNK_BYTES, offset);
        if (bytesRead === 0) break;
        await output.write(buffer, 0, bytesRead, offset);
        offset += bytesRead;
      }
    } catch (err) {
      await output.close().catch(() => undefined);
      await unlink(target).catch(() => undefined);
      throw err;
    }
    // From here the copy is the only home of those lines: it is never deleted, only flushed.
    try {
      await input.truncate(0);
      await output.sync();
    } finally {
      await output.close();
    }
    return offset;
  } finally {
    await input.close();
  }
}
