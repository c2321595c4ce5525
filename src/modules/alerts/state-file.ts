import { z } from 'zod';
import { JsonStateFile } from '../../agent/kit/json-state.js';
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
  private readonly file: JsonStateFile<z.infer<typeof stateSchema>>;

  constructor(stateDir: string) {
    this.file = new JsonStateFile(stateDir, 'state.json', stateSchema);
  }

  get path(): string {
    return this.file.path;
  }

  async load(): Promise<LoadedAlertsState> {
    const read = await this.file.load();
    if (read.value) {
      const { version: _version, ...snapshot } = read.value;
      return { snapshot };
    }
    if (read.invalid) return { snapshot: undefined, corrupt: `${read.invalid}; starting empty, kept aside as state.json.corrupt` };
    return read.unreadable ? { snapshot: undefined, corrupt: read.unreadable } : { snapshot: undefined };
  }

  /** Each save writes the snapshot taken at its own turn, so the last one has everything. */
  save(snapshot: () => EngineSnapshot): Promise<void> {
    return this.file.save(() => JSON.stringify({ version: 1, ...snapshot() }));
  }
}
