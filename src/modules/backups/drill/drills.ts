import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../../agent/kit/atomic-file.js';
import { ConflictError, CaretakerError, describeError } from '../../../agent/kit/errors.js';
import type { ItemEntry } from '../../../agent/kit/item-set.js';
import type { ModuleContext } from '../../../agent/kit/module.js';
import type { drillAnswer } from '../answers.js';
import type { BackupJob, BackupsConfig } from '../config.js';
import type { BackupsMetrics } from '../metrics.js';
import { runDrill, type DrillOutcome } from './run-drill.js';

export type DrillAnswer = z.infer<typeof drillAnswer>;
type Job = ItemEntry<BackupJob, unknown>;

export const drillKey = (job: string) => `backup:${job}:drill`;

/** A job's drill settings, for the kinds that have one. */
function drillOf(job: BackupJob): { schedule: string } | undefined {
  return 'drill' in job ? job.drill : undefined;
}

interface DrillState {
  running?: { startedAt: Date; done: Promise<void> };
  last?: DrillOutcome;
  lastSuccessAt?: Date;
}

/** What is kept of a job's drills across restarts, in `<stateDir>/drill-<job>.json`. */
const persistedSchema = z.object({
  last: z.object({
    result: z.enum(['success', 'failure', 'skipped']),
    message: z.string(),
    file: z.string().optional(),
    startedAt: z.iso.datetime(),
    finishedAt: z.iso.datetime(),
    durationMs: z.number(),
  }),
  lastSuccessAt: z.iso.datetime().optional(),
});
type Persisted = z.output<typeof persistedSchema>;

/**
 * The restore drills of the backup jobs: one cron schedule per job with a `drill` (owned by the job's entry,
 * so removing the job cancels it), at most one drill per job at a time, its result in metrics, the
 * `backup:<job>:drill` condition and the state file. A drill runs beside the job's backups, never blocking them.
 */
export class Drills {
  private readonly states = new Map<string, DrillState>();

  constructor(
    private readonly ctx: ModuleContext,
    private readonly metrics: BackupsMetrics,
    private readonly config: () => BackupsConfig,
    private readonly now: () => Date,
  ) {}

  /** (Re)schedules the job's drill, or drops it when the job has none any more; reads its last result once. */
  prepare(job: Job): void {
    const task = `drill:${job.name}`;
    job.tasks.get(task)?.cancel();
    job.tasks.delete(task);
    const drill = drillOf(job.config);
    if (!drill) {
      this.states.delete(job.name);
      this.ctx.conditions.resolve(drillKey(job.name));
      return;
    }
    job.tasks.set(
      task,
      this.ctx.schedule({ name: task, cron: drill.schedule, timezone: job.config.timezone }, async () => {
        if (this.states.get(job.name)?.running) job.log.warn('scheduled restore drill skipped: previous drill still in progress');
        else this.begin(job);
      }),
    );
    if (!this.states.has(job.name)) {
      const state: DrillState = {};
      this.states.set(job.name, state);
      this.ctx.track(this.load(job, state));
    }
  }

  /** Starts a drill now; a drill of the job in progress is a conflict, a job without a drill the caller's mistake. */
  runNow(job: Job): Date {
    if (!drillOf(job.config)) throw new CaretakerError(400, 'bad_request', `backup job '${job.name}' has no drill; add drill: { schedule, to } to its config`);
    const running = this.states.get(job.name)?.running;
    if (running) throw new ConflictError(`a restore drill of '${job.name}' is already running (started ${running.startedAt.toISOString()})`);
    return this.begin(job);
  }

  answer(job: Job): DrillAnswer | null {
    const drill = drillOf(job.config);
    if (!drill) return null;
    const state = this.states.get(job.name) ?? {};
    const last = state.last;
    return {
      schedule: drill.schedule,
      nextRun: job.tasks.get(`drill:${job.name}`)?.nextRun()?.toISOString() ?? null,
      running: state.running ? { startedAt: state.running.startedAt.toISOString() } : null,
      last: last
        ? {
            result: last.result,
            message: last.message,
            ...(last.file ? { file: last.file } : {}),
            startedAt: last.startedAt.toISOString(),
            finishedAt: last.finishedAt.toISOString(),
            durationSeconds: last.durationMs / 1000,
          }
        : null,
      lastSuccessAt: state.lastSuccessAt?.toISOString() ?? null,
    };
  }

  private begin(job: Job): Date {
    const state = this.states.get(job.name) ?? {};
    this.states.set(job.name, state);
    const startedAt = this.now();
    const done = this.execute(job, state).finally(() => {
      if (state.running?.done === done) delete state.running;
    });
    state.running = { startedAt, done };
    this.ctx.track(done);
    return startedAt;
  }

  private async execute(job: Job, state: DrillState): Promise<void> {
    const { log } = job;
    log.info('restore drill started');
    const outcome = await runDrill(job.config, { config: this.config(), stateDir: this.ctx.stateDir, signal: job.signal, log, now: this.now });
    // A job removed or a module stopping mid-drill records nothing: its label sets and condition are gone.
    if (job.signal.aborted) return;
    state.last = outcome;
    if (outcome.result === 'success') state.lastSuccessAt = outcome.finishedAt;
    this.record(job.name, state);
    await this.save(job, state).catch((err: unknown) => log.warn({ err: describeError(err) }, 'saving the drill result failed'));
  }

  private record(name: string, state: DrillState): void {
    const outcome = state.last!;
    this.metrics.drillRuns.inc({ backup: name, result: outcome.result });
    const fields = { file: outcome.file, seconds: outcome.durationMs / 1000 };
    if (outcome.result === 'success') {
      this.metrics.drillLastSuccess.set({ backup: name }, outcome.finishedAt.getTime() / 1000);
      this.ctx.conditions.resolve(drillKey(name));
      this.ctx.log.info({ backup: name, ...fields, checked: outcome.message }, 'restore drill passed');
      return;
    }
    const skipped = outcome.result === 'skipped';
    this.ctx.conditions.fire({
      key: drillKey(name),
      severity: skipped ? 'warning' : 'critical',
      summary: skipped ? `restore drill of backup ${name} cannot run` : `restore drill of backup ${name} failed`,
      detail: `backup job ${name}: ${outcome.file ? `${outcome.file}: ` : ''}${outcome.message}`,
      item: name,
    });
    if (skipped) this.ctx.log.warn({ backup: name, reason: outcome.message }, 'restore drill skipped');
    else this.ctx.log.error({ backup: name, ...fields, reason: outcome.message }, 'restore drill failed');
  }

  private statePath(name: string): string {
    return join(this.ctx.stateDir, `drill-${name}.json`);
  }

  private async save(job: Job, state: DrillState): Promise<void> {
    const last = state.last!;
    const persisted: Persisted = {
      last: { ...last, startedAt: last.startedAt.toISOString(), finishedAt: last.finishedAt.toISOString() },
      ...(state.lastSuccessAt ? { lastSuccessAt: state.lastSuccessAt.toISOString() } : {}),
    };
    await writeFileAtomic(this.statePath(job.name), JSON.stringify(persisted) + '\n', { mode: 0o600 });
  }

  /** The result of the last drill before a restart, so "passed 3 days ago" and the metric survive it. */
  private async load(job: Job, state: DrillState): Promise<void> {
    let persisted: Persisted;
    try {
      persisted = persistedSchema.parse(JSON.parse(await readFile(this.statePath(job.name), 'utf8')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') job.log.warn({ err: describeError(err) }, 'reading the last drill result failed');
      return;
    }
    // A drill that ended meanwhile is newer than the file.
    if (state.last || job.signal.aborted) return;
    const { file, ...last } = persisted.last;
    state.last = { ...last, ...(file ? { file } : {}), startedAt: new Date(last.startedAt), finishedAt: new Date(last.finishedAt) };
    if (persisted.lastSuccessAt) {
      state.lastSuccessAt = new Date(persisted.lastSuccessAt);
      this.metrics.drillLastSuccess.set({ backup: job.name }, state.lastSuccessAt.getTime() / 1000);
    }
  }
}
