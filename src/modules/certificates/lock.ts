import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * One order per certificate across processes (the daemon, `caretaker certs renew`, a second agent):
 * an O_EXCL lock file holding the owner's pid. A lock whose pid is gone (kill -9, crash) is stale and
 * taken over; a live owner makes acquire fail with LockHeldError.
 */

export class LockHeldError extends Error {
  readonly code = 'LOCK_HELD';
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super(`another process (pid ${pid}) is already ordering this certificate (lock ${path})`);
    this.name = 'LockHeldError';
  }
}

export interface Lock {
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function ownerOf(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function isFresh(path: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs < EMPTY_LOCK_GRACE_MS;
  } catch {
    return false;
  }
}

const EMPTY_LOCK_GRACE_MS = 5_000;

export async function acquireLock(dir: string, name: string): Promise<Lock> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${name}.lock`);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          if ((await ownerOf(path)) === process.pid) await unlink(path).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await ownerOf(path);
    if (owner !== undefined && isAlive(owner)) throw new LockHeldError(path, owner);
    // An empty file is a lock being written right now, unless it is old (its owner died in between).
    if (owner === undefined && (await isFresh(path))) throw new LockHeldError(path, 0);
    // Stale: the owner is gone; take it over.
    await unlink(path).catch(() => undefined);
  }
  throw new Error(`could not take the lock ${path}`);
}
