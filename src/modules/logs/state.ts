import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../agent/kit/atomic-file.js';

const stateSchema = z.object({
  version: z.literal(1),
  /** Keyed by the live file's real path. */
  files: z.record(
    z.string(),
    z.object({
      lastRotationMs: z.number().int().nonnegative(),
      /** lastRotationMs is only when the file was first seen (the calendar's baseline, as logrotate keeps it): nothing was rotated yet. */
      firstSight: z.literal(true).optional(),
    }),
  ),
});

export type LogsState = z.output<typeof stateSchema>;

export interface LoadedState {
  state: LogsState;
  /** Why the file on disk could not be used (it is kept aside as state.json.corrupt); undefined when fine or absent. */
  corrupt?: string;
}

/**
 * Last rotation time of each live file, in `<stateDir>/state.json`. Saves are serialised and
 * atomic; a missing or corrupt file yields an empty state that the rotator rebuilds from the
 * rotated files on disk.
 */
export class StateStore {
  private readonly path: string;
  private saving: Promise<void> = Promise.resolve();
  state: LogsState = { version: 1, files: {} };

  constructor(stateDir: string) {
    this.path = join(stateDir, 'state.json');
  }

  async load(): Promise<LoadedState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: this.state };
      return { state: this.state, corrupt: `cannot read ${this.path}: ${(err as Error).message}` };
    }
    try {
      this.state = stateSchema.parse(JSON.parse(text));
      return { state: this.state };
    } catch (err) {
      await rename(this.path, `${this.path}.corrupt`).catch(() => undefined);
      return { state: this.state, corrupt: `${this.path} is not valid state (${(err as Error).message.split('\n')[0]}); rebuilt from the files on disk` };
    }
  }

  lastRotation(path: string): number | undefined {
    return this.state.files[path]?.lastRotationMs;
  }

  /** When the file was last really rotated (a first-sight baseline is not a rotation). */
  rotatedAt(path: string): number | undefined {
    const entry = this.state.files[path];
    return entry && !entry.firstSight ? entry.lastRotationMs : undefined;
  }

  record(path: string, atMs: number, firstSight = false): void {
    this.state.files[path] = firstSight ? { lastRotationMs: atMs, firstSight } : { lastRotationMs: atMs };
  }

  /** Writes the current state; each save serialises the state at its own turn, so the last write has everything. */
  save(): Promise<void> {
    const run = this.saving.then(() => writeFileAtomic(this.path, `${JSON.stringify(this.state, null, 2)}\n`, { mode: 0o600 }));
    this.saving = run.catch(() => undefined);
    return run;
  }
}
