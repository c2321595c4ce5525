import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { writeFileAtomic } from './atomic-file.js';

/** What was on disk: the value, nothing (first start), or why it could not be used. */
export interface StateRead<T> {
  value?: T;
  /** The file exists but cannot be read (permissions, I/O); it is left where it is. */
  unreadable?: string;
  /** It does not parse against the schema; it was moved to `<name>.corrupt`. */
  invalid?: string;
}

/**
 * A module's JSON state file in its state dir. Saves are serialised and atomic (0600), so a kill leaves the
 * last complete state; a file that does not parse against the schema is kept aside as `<name>.corrupt`.
 */
export class JsonStateFile<T> {
  readonly path: string;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    stateDir: string,
    readonly name: string,
    private readonly schema: z.ZodType<T>,
  ) {
    this.path = join(stateDir, name);
  }

  async load(): Promise<StateRead<T>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      return { unreadable: `cannot read ${this.path}: ${(err as Error).message}` };
    }
    try {
      return { value: this.schema.parse(JSON.parse(text)) };
    } catch (err) {
      await rename(this.path, `${this.path}.corrupt`).catch(() => undefined);
      return { invalid: `${this.path} is not valid state (${(err as Error).message.split('\n')[0]})` };
    }
  }

  /** Each save writes what `serialize` returns at its own turn, so the last one has everything. */
  save(serialize: () => string): Promise<void> {
    const run = this.saving.then(() => writeFileAtomic(this.path, serialize(), { mode: 0o600 }));
    this.saving = run.catch(() => undefined);
    return run;
  }
}
