import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { onExit } from './cleanup.js';

export interface TempDir {
  path: string;
  /** Removes the directory and everything in it; safe to call twice. */
  cleanup(): Promise<void>;
}

/** A fresh directory under os.tmpdir(), removed at process exit if the test did not remove it. */
export async function makeTempDir(prefix: string): Promise<TempDir> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `caretaker-${prefix}-`));
  const unregister = onExit(() => rmSync(dir, { recursive: true, force: true }));
  return {
    path: dir,
    async cleanup() {
      unregister();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
