import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** Why a file was not read: not a regular file (a FIFO, a device, a directory), or over the limit. */
export class SmallFileError extends Error {
  constructor(
    readonly code: 'ENOTREG' | 'EFBIG',
    message: string,
  ) {
    super(message);
    this.name = 'SmallFileError';
  }
}

function describeLimit(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB (${bytes} bytes)` : `${bytes} bytes`;
}

/**
 * The text of a regular file of at most `maxBytes`, refused before it is read whole: the config and
 * the files its references name are read by the daemon under a 256 MiB heap, and `/dev/zero` or a FIFO
 * would never end. Errors from open/read pass through with their errno code.
 */
export async function readSmallFile(path: string, maxBytes: number): Promise<string> {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new SmallFileError('ENOTREG', 'is not a regular file');
    const tooBig = (size: string) => new SmallFileError('EFBIG', `is ${size}, over the limit of ${describeLimit(maxBytes)}`);
    if (info.size > maxBytes) throw tooBig(`${info.size} bytes`);
    // One byte more than the limit, so a file that grew since stat is caught without reading it all.
    // Sized by the limit, not by stat: /proc and /sys files say 0 bytes and have more.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buffer.length; length += n) {
      n = (await handle.read(buffer, length, buffer.length - length, null)).bytesRead;
    }
    if (length > maxBytes) throw tooBig(`more than ${describeLimit(maxBytes)}`);
    return buffer.toString('utf8', 0, length);
  } finally {
    await handle.close();
  }
}
