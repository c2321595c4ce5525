/**
 * Conditions: what a module reports when something is wrong (a renewal failing, a probe down) and when it
 * ends. Modules report through their context; whoever must tell a person (the alerts module) watches the
 * bus through its own context. Neither imports the other.
 */

export type ConditionSeverity = 'warning' | 'critical';

export interface ConditionReport {
  /** Stable across restarts and reloads: `<area>:<item>:<what>`, e.g. `cert:api.example.com:renewal`. */
  key: string;
  severity: ConditionSeverity;
  /** One line a person reads first: `renewal of api.example.com failed`. */
  summary: string;
  /** The cause as the module knows it (the CA's or pg_dump's error). Never a secret. */
  detail?: string;
  /** The configured item it is about (certificate, backup job, probe, log set), so removing the item resolves it. */
  item?: string;
}

export interface ConditionEvent extends Required<Omit<ConditionReport, 'item' | 'detail'>> {
  detail: string;
  item: string | undefined;
  /** The module that reported it (`certificates`, `probes`, ... or `agent`). */
  module: string;
  status: 'firing' | 'resolved';
  /** When it started firing in this process (ISO 8601). */
  startsAt: string;
  /** When it resolved (ISO 8601); only on `resolved`. */
  endsAt?: string;
}

/** What a module gets in `ctx.conditions`. */
export interface ConditionReporter {
  /** The condition holds (again, or still): a change of severity or summary is passed on, a repeat is not. */
  fire(report: ConditionReport): void;
  /** The condition no longer holds. */
  resolve(key: string): void;
  /** Resolves everything this module reported about `item` (the item was removed from the config). */
  resolveItem(item: string): void;
  /**
   * The module has `item` configured (the kit's ItemSet says so for each item it lists, and `resolveItem` ends
   * it). After a restart, an open condition about an item the module no longer has is ended by its subscriber.
   */
  present(item: string): void;
}

export type ConditionListener = (event: ConditionEvent) => void;

/** What a module that must act on conditions gets in `ctx.conditionFeed`. */
export interface ConditionFeed {
  /** Called for every change from now on; returns the unsubscribe. */
  watch(listener: ConditionListener): () => void;
  /** What fires now, for a subscriber that starts late (a reload, a restart of the module). */
  firing(): ConditionEvent[];
  /**
   * Whether what a condition kept from before a restart is about is still configured: false when its module
   * is not running or no longer lists its item, true when it is (or its module lists no items), undefined
   * until the agent has started every configured module.
   */
  stillConfigured(event: Pick<ConditionEvent, 'module' | 'item'>): boolean | undefined;
}

/**
 * The agent's one bus. A resolve is passed on when the key was firing, and also the first time a key is
 * seen in this process: after a restart, an alert persisted as open is resolved by the first good check.
 */
export class ConditionBus implements ConditionFeed {
  private readonly current = new Map<string, ConditionEvent>();
  private readonly resolvedKeys = new Set<string>();
  private readonly listeners = new Set<ConditionListener>();
  /** Running modules, each with the items it listed through `present` (null: it lists none). */
  private readonly modules = new Map<string, Set<string> | null>();
  private started = false;

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** A (re)started module's reporter: the items it lists start anew. */
  reporter(module: string): ConditionReporter {
    this.modules.set(module, null);
    return {
      fire: (report) => this.fire(module, report),
      resolve: (key) => this.resolve(module, key),
      resolveItem: (item) => {
        this.modules.get(module)?.delete(item);
        for (const event of [...this.current.values()]) if (event.module === module && event.item === item) this.resolve(module, event.key);
      },
      present: (item) => {
        const items = this.modules.get(module) ?? new Set<string>();
        items.add(item);
        this.modules.set(module, items);
      },
    };
  }

  /** Resolves everything `module` reported: its section was removed, so nothing will report the end. */
  resolveModule(module: string): void {
    this.modules.delete(module);
    for (const event of [...this.current.values()]) if (event.module === module) this.resolve(module, event.key);
  }

  /** The agent has started every configured module: `stillConfigured` can answer from now on. */
  startupDone(): void {
    this.started = true;
  }

  stillConfigured({ module, item }: Pick<ConditionEvent, 'module' | 'item'>): boolean | undefined {
    if (!this.started) return undefined;
    if (!this.modules.has(module)) return false;
    const items = this.modules.get(module);
    return items === null || items === undefined || item === undefined || items.has(item);
  }

  watch(listener: ConditionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  firing(): ConditionEvent[] {
    return [...this.current.values()].map((event) => ({ ...event }));
  }

  private fire(module: string, report: ConditionReport): void {
    const previous = this.current.get(report.key);
    const event: ConditionEvent = {
      key: report.key,
      severity: report.severity,
      summary: report.summary,
      detail: report.detail ?? '',
      item: report.item,
      module,
      status: 'firing',
      startsAt: previous?.startsAt ?? this.now().toISOString(),
    };
    this.current.set(report.key, event);
    this.resolvedKeys.delete(report.key);
    if (previous && previous.severity === event.severity && previous.summary === event.summary) return;
    this.emit(event);
  }

  private resolve(module: string, key: string): void {
    const previous = this.current.get(key);
    if (!previous && this.resolvedKeys.has(key)) return;
    this.current.delete(key);
    this.resolvedKeys.add(key);
    const at = this.now().toISOString();
    this.emit({
      ...(previous ?? { key, severity: 'warning', summary: '', detail: '', item: undefined, module, startsAt: at }),
      status: 'resolved',
      endsAt: at,
    });
  }

  private emit(event: ConditionEvent): void {
    for (const listener of this.listeners) {
      try {
        listener({ ...event });
      } catch {
        // A subscriber's bug must not stop the module that reported; the subscriber logs its own failures.
      }
    }
  }
}
