import { z } from 'zod';
import { JsonStateFile } from '../../agent/kit/json-state.js';

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
  private readonly file: JsonStateFile<LogsState>;
  state: LogsState = { version: 1, files: {} };

  constructor(stateDir: string) {
    this.file = new JsonStateFile(stateDir, 'state.json', stateSchema);
  }

  async load(): Promise<LoadedState> {
    const read = await this.file.load();
    if (read.value) {
      this.state = read.value;
      return { state: this.state };
    }
    if (read.invalid) return { state: this.state, corrupt: `${read.invalid}; rebuilt from the files on disk` };
    return read.unreadable ? { state: this.state, corrupt: read.unreadable } : { state: this.state };
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
    return this.file.save(() => `${JSON.stringify(this.state, null, 2)}\n`);
  }
}
