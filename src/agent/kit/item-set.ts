import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram } from 'prom-client';
import { ConflictError, describeError, NotFoundError, UnavailableError } from './errors.js';
import type { ModuleContext, ScheduleSpec, ScheduledTask } from './module.js';
import { diffByName, type NamedDiff } from './named.js';

/** One label set of one metric that belongs to an item: it exists while the item is configured. */
export interface LabelSet {
  metric: Counter<string> | Gauge<string> | Histogram<string>;
  labels: Record<string, string>;
  /** Exported as 0 from the moment the item is added (so rate() and alerts see it before the first event). */
  zero?: boolean;
}

/** What an item's own code gets from the set: its name, logger and the signal its work must end with. */
export interface ItemHandle {
  readonly name: string;
  /** The module's logger with the item named (`{[logKey]: name}`). */
  readonly log: Logger;
  /** Aborted when the item is removed by a reload or the module stops; chained to `ctx.signal`. */
  readonly signal: AbortSignal;
}

export interface ItemRun<R> {
  trigger: string;
  startedAt: Date;
  done: Promise<R>;
}

export interface ItemSetOptions<C extends { name: string }, I> {
  ctx: ModuleContext;
  /** How the item is named in errors: `no ${noun} named 'x'`, `${noun} 'x' is already running`. */
  noun: string;
  /** The log field that names the item (`probe`, `log`, `backup`, `cert`). */
  logKey: string;
  /** What one run of an item is called in its log lines: `${runName} aborted: stopping`. */
  runName: string;
  create(config: C, handle: ItemHandle, previous?: I): I;
  /**
   * A changed config: returns the item to keep (the same one updated, or a new one), keeping the item's
   * signal, schedules and run in flight. Without it the old item is removed (its work aborted, closed)
   * and a new one created with the old one as `previous`. It runs once the reload is committed, so it must not throw.
   */
  update?(item: I, next: C, handle: ItemHandle): I;
  /** Releases what the item holds (a connection) once its work has ended; after remove or stop. */
  close?(item: I): Promise<void>;
  labelSets?(config: C): LabelSet[];
  /** A scheduled run that found the item busy, after it was counted. */
  onSkipped?(entry: ItemEntry<C, I>): void;
  /** The clock for `startedAt`, injected by modules whose tests fake time. */
  now?: () => Date;
}

/** The set's record of one item: its config, its object, its schedules and its run in flight. */
export class ItemEntry<C extends { name: string }, I> implements ItemHandle {
  readonly log: Logger;
  readonly signal: AbortSignal;
  running: ItemRun<unknown> | undefined;
  /** Scheduled runs skipped because the item was still busy. */
  skipped = 0;
  readonly controller = new AbortController();
  readonly tasks = new Map<string, ScheduledTask>();

  constructor(
    public config: C,
    public item: I,
    log: Logger,
    parent: AbortSignal,
  ) {
    this.log = log;
    setMaxListeners(0, this.controller.signal);
    this.signal = AbortSignal.any([parent, this.controller.signal]);
  }

  get name(): string {
    return this.config.name;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }
}

function labelKey(set: LabelSet): string {
  return JSON.stringify([(set.metric as unknown as { name: string }).name, set.labels]);
}

/**
 * The named items of a module instance (probes, log sets, jobs, certificates): reload by diff, one run
 * at a time per item (a second manual run is a 409, a scheduled one is skipped and counted), per-item
 * label sets and logger, and every item's work aborted on remove or stop.
 */
export class ItemSet<C extends { name: string }, I> {
  private readonly entries = new Map<string, ItemEntry<C, I>>();
  private readonly now: () => Date;
  private stopped = false;

  constructor(private readonly options: ItemSetOptions<C, I>) {
    this.now = options.now ?? (() => new Date());
  }

  get size(): number {
    return this.entries.size;
  }

  values(): Array<ItemEntry<C, I>> {
    return [...this.entries.values()];
  }

  configs(): C[] {
    return this.values().map((e) => e.config);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry named `name`, or a 404 naming the noun. */
  get(name: string): ItemEntry<C, I> {
    const entry = this.entries.get(name);
    if (!entry) throw new NotFoundError(this.options.noun, name);
    return entry;
  }

  add(config: C): ItemEntry<C, I> {
    return this.enter(this.make(config), []);
  }

  /**
   * Applies a reloaded list, all or nothing: every new item is made before anything running is touched,
   * so a `create` that throws leaves the set as it was. Then removed items end, changed ones are updated
   * or replaced, and new ones are added.
   */
  async apply(next: readonly C[]): Promise<NamedDiff<C>> {
    const diff = diffByName(this.configs(), next);
    const replacements = this.options.update ? [] : diff.changed;
    const made: Array<ItemEntry<C, I>> = [];
    try {
      for (const [old, config] of replacements) made.push(this.make(config, this.get(old.name).item));
      for (const config of diff.added) made.push(this.make(config));
    } catch (err) {
      await Promise.all(made.map((entry) => this.options.close?.(entry.item).catch(() => undefined)));
      throw err;
    }
    await Promise.all(diff.removed.map((c) => this.remove(c.name)));
    const madeByName = new Map(made.map((entry) => [entry.name, entry]));
    for (const [old, config] of diff.changed) {
      const entry = this.get(old.name);
      const previousLabels = this.options.labelSets?.(old) ?? [];
      const replacement = madeByName.get(config.name);
      if (replacement) {
        await this.end(entry);
        this.entries.delete(old.name);
        this.enter(replacement, previousLabels);
      } else {
        this.relabel(previousLabels, config);
        entry.config = config;
        entry.item = this.options.update!(entry.item, config, entry);
      }
    }
    for (const config of diff.added) this.enter(madeByName.get(config.name)!, []);
    return diff;
  }

  /** A new entry and its item, not yet listed: no label set, no schedule. */
  private make(config: C, previous?: I): ItemEntry<C, I> {
    const log = this.options.ctx.log.child({ [this.options.logKey]: config.name });
    const entry = new ItemEntry<C, I>(config, undefined as I, log, this.options.ctx.signal);
    entry.item = this.options.create(config, entry, previous);
    return entry;
  }

  /** Lists a made entry; `previousLabels`: the label sets of the item it replaces, so only the difference is touched. */
  private enter(entry: ItemEntry<C, I>, previousLabels: LabelSet[]): ItemEntry<C, I> {
    this.entries.set(entry.name, entry);
    this.options.ctx.conditions.present(entry.name);
    this.relabel(previousLabels, entry.config);
    return entry;
  }

  /** Ends the item's work and schedules, releases it, drops its label sets and resolves its conditions. */
  async remove(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) return;
    this.entries.delete(name);
    await this.end(entry);
    this.unlabel(entry);
    this.options.ctx.conditions.resolveItem(name);
  }

  /**
   * Starts a run of the item now; `done` settles when it ends. A run already in flight is a 409 naming
   * when and by what it was started.
   */
  begin<R>(name: string, trigger: string, work: (entry: ItemEntry<C, I>) => Promise<R>): ItemRun<R> {
    const entry = this.get(name);
    if (this.stopped) throw new UnavailableError(`stopping: no new ${this.options.runName} starts`);
    if (entry.running) {
      const { startedAt, trigger: by } = entry.running;
      throw new ConflictError(`${this.options.noun} '${name}' is already running (started ${startedAt.toISOString()} by ${by})`);
    }
    const run: ItemRun<R> = { trigger, startedAt: this.now(), done: Promise.resolve(undefined as R) };
    entry.running = run;
    run.done = (async () => {
      try {
        return await work(entry);
      } finally {
        if (entry.running === run) entry.running = undefined;
        // A run still in flight when the module stopped says so once, naming its item.
        if (this.options.ctx.signal.aborted) entry.log.info(`${this.options.runName} aborted: stopping`);
      }
    })();
    this.options.ctx.track(run.done);
    return run;
  }

  /** The scheduled path: a busy item skips the run (counted, warned) instead of queueing it. */
  tick<R>(name: string, work: (entry: ItemEntry<C, I>) => Promise<R>): ItemRun<R> | undefined {
    const entry = this.entries.get(name);
    if (!entry || this.stopped || entry.signal.aborted) return undefined;
    if (entry.running) {
      entry.skipped++;
      entry.log.warn({ skipped: entry.skipped }, `scheduled ${this.options.runName} skipped: previous run still in progress`);
      this.options.onSkipped?.(entry);
      return undefined;
    }
    return this.begin(name, 'schedule', work);
  }

  /**
   * Schedules runs of one item (replacing its task of the same name). An interval waits for the run, so
   * the next one is spaced from its end; a cron tick only starts it, so a tick that finds it busy is skipped.
   */
  schedule(name: string, spec: ScheduleSpec, work: (entry: ItemEntry<C, I>, due: Date) => Promise<unknown>): ScheduledTask {
    const entry = this.get(name);
    entry.tasks.get(spec.name)?.cancel();
    const task = this.options.ctx.schedule(spec, async (_signal, due) => {
      const done = this.tick(name, (e) => work(e, due))?.done.catch((err: unknown) => {
        if (!entry.signal.aborted) entry.log.error({ err: describeError(err) }, `${this.options.runName} failed`);
      });
      if ('everyMs' in spec) await done;
    });
    entry.tasks.set(spec.name, task);
    return task;
  }

  /**
   * Ends every item as a removal does (work aborted and awaited, label sets dropped). `keepListed`: the
   * items stay listed so their last results can still be read. Safe to call twice.
   */
  async stop(options: { keepListed?: boolean } = {}): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      await Promise.all(this.values().map((e) => this.end(e)));
      for (const entry of this.values()) this.unlabel(entry);
    }
    if (!options.keepListed) this.entries.clear();
  }

  private unlabel(entry: ItemEntry<C, I>): void {
    for (const set of this.options.labelSets?.(entry.config) ?? []) set.metric.remove(set.labels);
  }

  private async end(entry: ItemEntry<C, I>): Promise<void> {
    for (const task of entry.tasks.values()) task.cancel();
    entry.tasks.clear();
    entry.controller.abort();
    await entry.running?.done.catch(() => undefined);
    await this.options.close?.(entry.item).catch((err: unknown) => entry.log.warn({ err: describeError(err) }, `closing ${this.options.noun} failed`));
  }

  /** Zeroes the label sets `next` adds over `previous` and removes those only `previous` had. */
  private relabel(previous: LabelSet[], next: C): void {
    const sets = this.options.labelSets?.(next) ?? [];
    const kept = new Set(sets.map(labelKey));
    for (const set of previous) if (!kept.has(labelKey(set))) set.metric.remove(set.labels);
    const had = new Set(previous.map(labelKey));
    for (const set of sets) {
      if (!set.zero || had.has(labelKey(set))) continue;
      if (set.metric instanceof Counter) set.metric.inc(set.labels, 0);
      else if (set.metric instanceof Gauge) set.metric.set(set.labels, 0);
      else set.metric.zero(set.labels);
    }
  }
}
