import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../harness/process.js';

interface RemoteInput {
  repository?: unknown;
  password?: unknown;
  options?: unknown;
}

/** Runs restic by hand against a test remote (as a person would with `restic snapshots`); resolves with stdout. */
export function restic(remote: RemoteInput, args: string[]): Promise<string> {
  const options = Object.entries((remote.options ?? {}) as Record<string, string>).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
  return runCommand('restic', ['--no-cache', ...options, ...args], {
    env: { ...process.env, RESTIC_REPOSITORY: String(remote.repository), RESTIC_PASSWORD: String(remote.password) },
    timeoutMs: 120_000,
  });
}

/** Every regular file under dir. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Bytes of the regular files under dir (0 when it is not there yet): how much a repository holds. */
export async function bytesUnder(dir: string): Promise<number> {
  const files = await filesUnder(dir).catch(() => []);
  let total = 0;
  for (const file of files) total += await stat(file).then((s) => s.size, () => 0);
  return total;
}
