import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../agent/kit/atomic-file.js';
import type { EngineSnapshot } from './engine.js';

const severity = z.enum(['warning', 'critical']);
const status = z.enum(['firing', 'resolved']);

const line = z.object({
  key: z.string(),
  module: z.string(),
  item: z.string().optional(),
  severity,
  summary: z.string(),
  detail: z.string(),
  status,
  startsAt: z.string(),
  endsAt: z.string().optional(),
});

// A ConditionEvent always has the `item` key, undefined for a condition not about one item.
const event = line.transform((l) => ({ ...l, item: l.item }));

const stateSchema = z.object({
  version: z.literal(1),
  firing: z.array(event),
  channels: z.record(
    z.string(),
    z.object({
      told: z.array(z.object({ line, sentAt: z.number() })),
      pending: z.array(line),
      windowSince: z.number().nullable(),
      queue: z.array(
        z.object({
          id: z.number(),
          notification: z.object({ status, alerts: z.array(line), host: z.string(), test: z.boolean().optional() }),
          attempts: z.number(),
          nextAt: z.number(),
          createdAt: z.number(),
        }),
      ),
      built: z.array(z.number()),
      last: z.object({ at: z.number(), result: z.enum(['delivered', 'failed', 'rejected']), attempts: z.number(), error: z.string().optional() }).nullable(),
      lastSuccessAt: z.number().nullable(),
    }),
  ),
});

export interface LoadedAlertsState {
  snapshot: EngineSnapshot | undefined;
  /** Why the file could not be used (it is kept aside as state.json.corrupt). */
  corrupt?: string;
}

/**
 * `<stateDir>/state.json`: what fires, what each channel was told and when, and the undelivered queue.
 * Saves are serialised and atomic, so a kill leaves the last complete state.
 */
export class AlertsStateFile {
  readonly path: string;
  private saving: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    this.path = join(stateDir, 'state.json');
  }

  async load(): Promise<LoadedAlertsState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { snapshot: undefined };
      return { snapshot: undefined, corrupt: `cannot read ${this.path}: ${(err as Error).message}` };
    }
    try {
      const { version: _version, ...snapshot } = stateSchema.parse(JSON.parse(text));
      return { snapshot };
    } catch (err) {
      await rename(this.path, `${this.path}.corrupt`).catch(() => undefined);
      return { snapshot: undefined, corrupt: `${this.path} is not valid state (${(err as Error).message.split('\n')[0]}); starting empty, kept aside as state.json.corrupt` };
    }
  }

  /** Each save writes the snapshot taken at its own turn, so the last one has everything. */
  save(snapshot: () => EngineSnapshot): Promise<void> {
    const run = this.saving.then(() => writeFileAtomic(this.path, JSON.stringify({ version: 1, ...snapshot() }), { mode: 0o600 }));
    this.saving = run.catch(() => undefined);
    return run;
  }
}
