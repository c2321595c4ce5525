import type { Logger } from 'pino';
import type { ModuleContext, ModuleHealth, ModuleInstance, ScheduledTask } from '../../agent/kit/module.js';
import { describeError, NotFoundError, UnavailableError } from '../../agent/kit/errors.js';
import { diffByName } from '../../agent/kit/named.js';
import type { LogsConfig } from './config.js';
import { LogSet, type RotationOutcome, type SetDeps, type SetStatus } from './log-set.js';
import { removeSetMetrics, type LogsMetrics } from './metrics.js';
import { chooseHeldCheck, heldOpen, QUIET_MS, type HeldCheck } from './reopen.js';
import { StateStore } from './state.js';

export const CHECK_EVERY_MS = 60_000;

export interface RotatorOptions {
  /** The clock, injected so calendar triggers are tested without waiting for midnight. */
  now?: () => Date;
  /** How a writer still holding a rotated file is seen; chosen at start from what /proc shows when not given. */
  held?: HeldCheck;
}

export interface LogsStatus {
  /** Set when the state file was unreadable and rebuilt from the files on disk. */
  stateRebuilt: string | null;
  nextCheck: string | null;
  logs: SetStatus[];
}

/** The logs module instance: one LogSet per configured set, checked every minute and at start. */
export class Rotator implements ModuleInstance<LogsConfig> {
  private readonly sets = new Map<string, LogSet>();
  private readonly controller = new AbortController();
  private readonly store: StateStore;
  private readonly now: () => Date;
  private readonly log: Logger;
  private held: HeldCheck | undefined;
  private task: ScheduledTask | undefined;
  private ticking: Promise<void> | undefined;
  private stateRebuilt: string | null = null;
  private started = false;
  private stopped = false;

  constructor(
    private readonly ctx: ModuleContext,
    private config: LogsConfig,
    private readonly metrics: LogsMetrics,
    options: RotatorOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.held = options.held;
    this.log = ctx.log;
    this.store = new StateStore(ctx.stateDir);
    ctx.signal.addEventListener('abort', () => this.controller.abort(), { once: true });
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const loaded = await this.store.load();
    if (loaded.corrupt) {
      this.stateRebuilt = loaded.corrupt;
      this.log.warn({ reason: loaded.corrupt }, 'rotation state rebuilt from disk');
    }
    if (this.held === undefined) {
      const { check, method } = await chooseHeldCheck();
      this.held = check;
      if (method === 'quiet') this.log.info({ quietMs: QUIET_MS }, "other users' processes are hidden (no CAP_SYS_PTRACE): a rotated file is compressed once it has gone quiet");
    }
    for (const set of this.config) this.sets.set(set.name, this.newSet(set, { removeLeftovers: true }));
    this.task = this.ctx.schedule({ name: 'logs-check', everyMs: CHECK_EVERY_MS }, () => this.tick());
    // The first check runs now, in the background (start does not wait for a compression): that is
    // where a rotation missed while the agent was down is caught up. tick() joins it if called meanwhile.
    void this.tick().catch((err: unknown) => this.log.error({ err: describeError(err) }, 'first log check failed'));
  }

  /** Checks every set once (sets run one after another so two compressions never compete). */
  tick(): Promise<void> {
    this.ticking ??= (async () => {
      try {
        for (const set of [...this.sets.values()]) {
          if (this.controller.signal.aborted) return;
          // One set's unexpected error never keeps the others from rotating.
          await set.check().catch((err: unknown) => {
            if (!this.controller.signal.aborted) this.log.error({ log: set.config.name, err: describeError(err) }, 'log check failed');
          });
        }
      } finally {
        this.ticking = undefined;
      }
    })();
    return this.ticking;
  }

  async rotate(name: string): Promise<RotationOutcome> {
    if (this.stopped) throw new UnavailableError('the logs module is stopping');
    const set = this.sets.get(name);
    if (!set) throw new NotFoundError('log set', name);
    return set.rotateNow();
  }

  async reload(next: LogsConfig): Promise<void> {
    const diff = diffByName(this.config, next);
    // Building sets does no I/O and cannot fail half-way, so the swap below is all or nothing.
    const replacements = new Map<string, LogSet>();
    for (const set of diff.added) replacements.set(set.name, this.newSet(set));
    for (const [, changed] of diff.changed) replacements.set(changed.name, this.newSet(changed, { after: this.sets.get(changed.name)?.settled() }));
    for (const removed of diff.removed) {
      this.sets.delete(removed.name);
      removeSetMetrics(this.metrics, removed.name);
    }
    for (const [name, set] of replacements) this.sets.set(name, set);
    this.config = next;
    this.log.info({ added: diff.added.length, removed: diff.removed.length, changed: diff.changed.length }, 'logs reloaded');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.task?.cancel();
    this.controller.abort();
    await Promise.all([...this.sets.values()].map((s) => s.settled()));
  }

  health(): ModuleHealth {
    const checks = [...this.sets.values()].map((set) => {
      const problems = set.problems();
      return { name: set.config.name, ok: problems.length === 0, critical: false, ...(problems.length > 0 ? { message: problems[0] } : {}) };
    });
    const failing = checks.filter((c) => !c.ok);
    if (failing.length === 0) return { status: 'ok', checks };
    return { status: 'degraded', message: `${failing.length} log set(s) with problems: ${failing.map((c) => c.name).join(', ')}`, checks };
  }

  status(): LogsStatus {
    return {
      stateRebuilt: this.stateRebuilt,
      nextCheck: this.task?.nextRun()?.toISOString() ?? null,
      logs: [...this.sets.values()].map((s) => s.status()),
    };
  }

  private newSet(config: LogsConfig[number], options: Pick<SetDeps, 'after' | 'removeLeftovers'> = {}): LogSet {
    return new LogSet(config, { log: this.log, metrics: this.metrics, store: this.store, held: this.held ?? heldOpen, now: this.now, signal: this.controller.signal, ...options });
  }
}
