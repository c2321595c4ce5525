import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { HashWorker } from './hash-worker.js';

/** Runs `work` with a hash worker that an abort terminates. */
async function withWorker<T>(signal: AbortSignal | undefined, work: (worker: HashWorker) => Promise<T>): Promise<T> {
  signal?.throwIfAborted();
  const worker = new HashWorker();
  const onAbort = () => void worker.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await work(worker);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await worker.close();
  }
}

/** sha256 of a file, read and hashed in a worker thread, for re-checking a backup against its manifest. */
export function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  return withWorker(signal, (worker) => worker.file(path));
}

/**
 * sha256 of a directory backup (pg_dump -Fd writes a flat directory): the digest of its `sha256  name` lines
 * sorted by name, the same text `sha256sum *` prints, so it can be re-checked by hand.
 */
export function sha256Tree(path: string, signal?: AbortSignal): Promise<string> {
  return withWorker(signal, async (worker) => {
    const outer = createHash('sha256');
    for (const name of (await readdir(path)).sort()) outer.update(`${await worker.file(join(path, name))}  ${name}\n`);
    return outer.digest('hex');
  });
}

/** sha256 of a backup, file or directory. */
export async function sha256Of(path: string, signal?: AbortSignal): Promise<string> {
  return (await stat(path)).isDirectory() ? sha256Tree(path, signal) : sha256File(path, signal);
}

/** Bytes a backup takes: the file's size, or the sum over a directory backup's files. */
export async function sizeOf(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(path)) total += (await stat(join(path, name))).size;
  return total;
}
