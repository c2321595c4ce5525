import type { Logger } from 'pino';
import { nextCronRun } from './kit/cron.js';
import type { ScheduleSpec, ScheduledTask, ScheduledWork } from './kit/module.js';
import { describeError } from './kit/errors.js';
import { systemTimeZone } from './kit/zoned-time.js';

// A cron timer is re-armed at least this often, so a wall clock that is set back or jumps ahead is followed.
const CRON_RECHECK_MS = 60_000;

/**
 * The timers and the work in flight of one module instance. Runs never overlap per task (a tick that finds
 * the previous run busy is skipped and counted), work gets an AbortSignal, `cancelAll` leaves no timer behind
 * and `idle` waits for every tick and tracked piece of work still running.
 */
export class ModuleScheduler {
  private readonly tasks = new Set<TaskRunner>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly log: Logger,
    private readonly signal: AbortSignal,
  ) {}

  schedule(spec: ScheduleSpec, work: ScheduledWork): ScheduledTask {
    const task = new TaskRunner(spec, work, this.log, this.signal, (t) => this.tasks.delete(t), (run) => this.track(run));
    this.tasks.add(task);
    task.start();
    return task;
  }

  nextRuns(): Array<{ name: string; next: string | null }> {
    return [...this.tasks].map((t) => ({ name: t.name, next: t.nextRun()?.toISOString() ?? null }));
  }

  cancelAll(): void {
    for (const task of this.tasks) task.cancel();
    this.tasks.clear();
  }

  track(work: Promise<unknown>): void {
    this.inFlight.add(work);
    const forget = () => this.inFlight.delete(work);
    work.then(forget, forget);
  }

  /** Resolves once nothing tracked or ticking is in flight, including work that work in flight started. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}

class TaskRunner implements ScheduledTask {
  readonly name: string;
  skipped = 0;
  private running: Promise<void> | undefined;
  private cancelled = false;
  private timer: NodeJS.Timeout | undefined;
  private jitterTimer: NodeJS.Timeout | undefined;
  private nextAt: Date | null = null;

  constructor(
    private readonly spec: ScheduleSpec,
    private readonly work: ScheduledWork,
    private readonly log: Logger,
    private readonly signal: AbortSignal,
    private readonly onCancel: (task: TaskRunner) => void,
    private readonly track: (run: Promise<void>) => void,
  ) {
    this.name = spec.name;
  }

  start(): void {
    if ('cron' in this.spec) {
      this.armCron(this.spec.cron, this.spec.timezone ?? systemTimeZone());
    } else {
      this.armInterval(this.spec.runAtStart ? 0 : this.spec.everyMs);
    }
  }

  nextRun(): Date | null {
    if (this.cancelled) return null;
    return this.nextAt;
  }

  async runNow(): Promise<boolean> {
    if (this.cancelled) return false;
    if (this.running) {
      this.skipped++;
      await this.running;
      return false;
    }
    await this.run();
    return true;
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    clearTimeout(this.timer);
    clearTimeout(this.jitterTimer);
    this.nextAt = null;
    this.onCancel(this);
  }

  private armInterval(delayMs: number): void {
    if (this.cancelled) return;
    const jitter = this.jitter();
    this.nextAt = new Date(Date.now() + delayMs + jitter);
    this.timer = setTimeout(() => {
      void this.tick().finally(() => {
        if ('everyMs' in this.spec) this.armInterval(this.spec.everyMs);
      });
    }, delayMs + jitter);
  }

  private armCron(expression: string, timeZone: string): void {
    if (this.cancelled) return;
    const next = nextCronRun(expression, new Date(), timeZone);
    this.nextAt = next;
    const wait = () => {
      const left = next.getTime() - Date.now();
      if (left > 0) {
        this.timer = setTimeout(wait, Math.min(left, CRON_RECHECK_MS));
        return;
      }
      this.tickAfterJitter(next);
      this.armCron(expression, timeZone);
    };
    wait();
  }

  private tickAfterJitter(due: Date): void {
    const jitter = this.jitter();
    if (jitter === 0) {
      void this.tick(due);
      return;
    }
    this.jitterTimer = setTimeout(() => void this.tick(due), jitter);
  }

  private jitter(): number {
    const max = this.spec.jitterMs ?? 0;
    return max > 0 ? Math.floor(Math.random() * max) : 0;
  }

  private async tick(due = new Date()): Promise<void> {
    if (this.cancelled) return;
    if (this.running) {
      this.skipped++;
      this.log.warn({ task: this.name, skipped: this.skipped }, 'scheduled run skipped: previous run still in progress');
      return;
    }
    await this.run(due);
  }

  private async run(due = new Date()): Promise<void> {
    const run = (async () => {
      try {
        await this.work(this.signal, due);
      } catch (err) {
        // Modules record results as data; a throw here is a programming error, logged, never fatal.
        this.log.error({ task: this.name, err: describeError(err) }, 'scheduled task threw');
      }
    })();
    this.running = run;
    this.track(run);
    try {
      await run;
    } finally {
      this.running = undefined;
    }
  }
}
