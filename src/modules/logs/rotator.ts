import type { Logger } from 'pino';
import type { z } from 'zod';
import { describeError, UnavailableError } from '../../agent/kit/errors.js';
import { ItemSet, type ItemEntry, type ItemHandle } from '../../agent/kit/item-set.js';
import type { ModuleContext, ModuleHealth, ModuleInstance, ScheduledTask } from '../../agent/kit/module.js';
import type { logsStatus } from './answers.js';
import type { LogSetConfig, LogsConfig } from './config.js';
import { findLogrotateConflicts, type LogrotateConflict } from './adopt/conflicts.js';
import { DEFAULT_LOGROTATE_CONF } from './adopt/parse.js';
import { LogSet, type RotationOutcome } from './log-set.js';
import { itemLabelSets, type LogsMetrics } from './metrics.js';
import { chooseHeldCheck, heldOpen, QUIET_MS, type HeldCheck } from './reopen.js';
import { StateStore } from './state.js';

export const CHECK_EVERY_MS = 60_000;
/** The one schedule of the module: every set checked in turn, so two compressions never compete. */
export const CHECK_TASK = 'logs-check';

export interface RotatorOptions {
  /** The clock, injected so calendar triggers are tested without waiting for midnight. */
  now?: () => Date;
  /** How a writer still holding a rotated file is seen; chosen at start from what /proc shows when not given. */
  held?: HeldCheck;
  /** logrotate's config checked for conflicts at start and reload (default /etc/logrotate.conf). */
  logrotateConf?: string;
}

/** What `GET /logs` answers. */
export type LogsStatus = z.infer<typeof logsStatus>;

/** The logs module instance: one LogSet per configured set, checked every minute and at start. */
export class Rotator implements ModuleInstance<LogsConfig> {
  private readonly sets: ItemSet<LogSetConfig, LogSet>;
  private readonly store: StateStore;
  private readonly now: () => Date;
  private readonly log: Logger;
  private held: HeldCheck | undefined;
  private task: ScheduledTask | undefined;
  private stateRebuilt: string | null = null;
  private started = false;
  /** Until the sets of the start config exist: their first check removes leftovers (nothing can be compressing yet). */
  private starting = true;
  private stopped = false;
  private readonly logrotateConf: string;
  private logrotateProblem: string | undefined;

  constructor(
    private readonly ctx: ModuleContext,
    private readonly config: LogsConfig,
    private readonly metrics: LogsMetrics,
    options: RotatorOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.held = options.held;
    this.logrotateConf = options.logrotateConf ?? DEFAULT_LOGROTATE_CONF;
    this.log = ctx.log;
    this.store = new StateStore(ctx.stateDir);
    this.sets = new ItemSet<LogSetConfig, LogSet>({
      ctx,
      noun: 'log set',
      logKey: 'log',
      runName: 'log check',
      create: (c, handle) => this.newSet(c, handle),
      // An edited set keeps its run in flight; the next run uses the new config.
      update: (_set, next, handle) => this.newSet(next, handle),
      labelSets: (c) => itemLabelSets(metrics, c.name),
    });
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
    for (const set of this.config) this.sets.add(set);
    this.starting = false;
    await this.checkConflicts();
    // The first check runs at once, in the background (start does not wait for a compression): that is
    // where a rotation missed while the agent was down is caught up.
    this.task = this.ctx.schedule({ name: CHECK_TASK, everyMs: CHECK_EVERY_MS, runAtStart: true }, () => this.checkAll());
  }

  async rotate(name: string): Promise<RotationOutcome> {
    if (this.stopped) throw new UnavailableError('the logs module is stopping');
    return this.sets.begin(name, 'manual', (e) => e.item.check(true)).done;
  }

  async reload(next: LogsConfig): Promise<void> {
    const diff = await this.sets.apply(next);
    await this.checkConflicts();
    this.log.info({ added: diff.added.length, removed: diff.removed.length, changed: diff.changed.length }, 'logs reloaded');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.task?.cancel();
    await this.sets.stop({ keepListed: true });
  }

  health(): ModuleHealth {
    const checks = this.sets.values().map(({ name, item }) => {
      const problems = item.problems();
      return { name, ok: problems.length === 0, critical: false, ...(problems.length > 0 ? { message: problems[0] } : {}) };
    });
    const failing = checks.filter((c) => !c.ok);
    if (failing.length === 0) return { status: 'ok', checks };
    return { status: 'degraded', message: `${failing.length} log set(s) with problems: ${failing.map((c) => c.name).join(', ')}`, checks };
  }

  status(): LogsStatus {
    return {
      stateRebuilt: this.stateRebuilt,
      nextCheck: this.task?.nextRun()?.toISOString() ?? null,
      logs: this.sets.values().map((e) => e.item.status(e.busy)),
    };
  }

  /**
   * Two rotators on one file halve its retention and reopen its writer twice: each set whose paths an
   * active logrotate block rotates too is a conflict until that file is adopted. Checked at start,
   * reload and every minute, so `caretaker adopt logrotate` ends it without a reload.
   */
  private async checkConflicts(): Promise<void> {
    let found: LogrotateConflict[] = [];
    let problem: string | undefined;
    try {
      found = await findLogrotateConflicts(this.sets.configs(), this.logrotateConf);
    } catch (err) {
      // No logrotate installed is the usual case; an unreadable one is said once, never fatal.
      if ((err as { cause?: NodeJS.ErrnoException }).cause?.code !== 'ENOENT') problem = describeError(err);
    }
    if (problem !== undefined && problem !== this.logrotateProblem) this.log.warn({ err: problem }, 'logrotate config unreadable: conflicts not checked');
    this.logrotateProblem = problem;
    const bySet = new Map<string, LogrotateConflict>();
    for (const conflict of found) if (!bySet.has(conflict.log)) bySet.set(conflict.log, conflict);
    this.ctx.conflicts.set(
      'logrotate',
      [...bySet.values()].map((c) => ({ item: c.log, detail: `log set ${c.log}: ${c.path} is also rotated by logrotate (${c.logrotate}: ${c.pattern})`, fix: c.resolve })),
    );
  }

  private async checkAll(): Promise<void> {
    await this.checkConflicts();
    for (const { name } of this.sets.values()) {
      if (this.ctx.signal.aborted) return;
      // One set's unexpected error never keeps the others from rotating; a set busy rotating is skipped.
      await this.sets.tick(name, checkDue)?.done.catch((err: unknown) => {
        if (!this.ctx.signal.aborted && this.sets.has(name)) this.log.error({ log: name, err: describeError(err) }, 'log check failed');
      });
    }
  }

  private newSet(config: LogSetConfig, handle: ItemHandle): LogSet {
    const deps = { log: handle.log, metrics: this.metrics, conditions: this.ctx.conditions, store: this.store, held: this.held ?? heldOpen, now: this.now, signal: handle.signal };
    return new LogSet(config, { ...deps, removeLeftovers: this.starting });
  }
}

function checkDue(entry: ItemEntry<LogSetConfig, LogSet>): Promise<RotationOutcome> {
  return entry.item.check(false);
}
