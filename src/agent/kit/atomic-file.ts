import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode, applied at creation so a private key is never readable by others, even briefly. */
  mode?: number;
}

/** fsync a directory so a rename or a new entry in it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const TEMP_RANDOM_BYTES = 6;
const TEMP_NAME = new RegExp(`^\\.(.+)\\.[0-9a-f]{${TEMP_RANDOM_BYTES * 2}}\\.tmp$`);

/** A temp name in the same directory (so the final rename stays on one filesystem), hidden and recognisable. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(TEMP_RANDOM_BYTES).toString('hex')}.tmp`);
}

/** The file name a tempPathFor() name was made for, or undefined when `fileName` is not such a name: for removing what a kill left. */
export function tempTargetName(fileName: string): string | undefined {
  return TEMP_NAME.exec(fileName)?.[1];
}

/** Writes `data` to `path` so that readers see either the old content or the new, never a mix. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const temp = tempPathFor(path);
  const handle = await open(temp, 'wx', options.mode ?? 0o644);
  try {
    try {
      await handle.writeFile(data);
      if (options.mode !== undefined) await handle.chmod(options.mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dirname(path));
}
