import type { Logger } from 'pino';
import type { z } from 'zod';
import { ConflictError, NotFoundError, describeError } from '../../agent/kit/errors.js';
import type { ModuleContext, ModuleHealth, ModuleInstance, ScheduledTask } from '../../agent/kit/module.js';
import { diffByName } from '../../agent/kit/named.js';
import type { backupFileInfo, jobDetail, jobState, jobSummary, trigger } from './answers.js';
import { lastMissedRun } from './catch-up.js';
import { listBackups, removeLeftovers, type BackupEntry } from './catalog.js';
import type { BackupJob, BackupsConfig } from './config.js';
import { kindOf } from './kinds/all.js';
import { initJobMetrics, removeJobMetrics, type BackupMetrics } from './metrics.js';
import { pruneJob } from './prune.js';
import { runBackup, type RunOutcome } from './run-backup.js';
import { systemTimeZone } from '../../agent/kit/zoned-time.js';

export type Trigger = z.infer<typeof trigger>;
export type JobStateName = z.infer<typeof jobState>;

interface RunningRun {
  trigger: Trigger;
  startedAt: Date;
  controller: AbortController;
  done: Promise<void>;
}

interface JobSlot {
  job: BackupJob;
  log: Logger;
  task?: ScheduledTask;
  running?: RunningRun;
  last?: RunOutcome & { trigger: Trigger };
  backups: BackupEntry[];
  skipped: number;
  /** Aborted when the job is removed by a reload. */
  removed: AbortController;
}

export type BackupFileInfo = z.infer<typeof backupFileInfo>;
export type JobSummary = z.infer<typeof jobSummary>;
/** What `GET /backups/:job` answers. */
export type JobDetail = z.infer<typeof jobDetail>;

function stateOf(slot: JobSlot): JobStateName {
  if (slot.running) return 'running';
  if (!slot.last) return 'never_run';
  if (slot.last.result === 'success') return 'ok';
  if (slot.last.reason === 'unsupported') return 'unsupported';
  if (slot.last.reason === 'low_disk') return 'low_disk';
  return 'failed';
}

/**
 * The backups module instance: one schedule per job, at most one run per job at a time (an overlapping tick
 * is skipped and counted), a catch-up run at start for a run missed while the agent was down, retention
 * after each success. Results are state and metrics; only a caller's mistake (unknown job, busy job) throws.
 */
export class BackupRunner implements ModuleInstance<BackupsConfig> {
  private config: BackupsConfig;
  private readonly slots = new Map<string, JobSlot>();
  private readonly background = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly ctx: ModuleContext,
    config: BackupsConfig,
    private readonly metrics: BackupMetrics,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.config = config;
  }

  async start(): Promise<void> {
    for (const job of this.config.jobs) this.addJob(job);
  }

  async reload(next: BackupsConfig): Promise<void> {
    const dirChanged = next.dir !== this.config.dir;
    const diff = diffByName(this.config.jobs, next.jobs);
    this.config = next;
    for (const job of diff.removed) this.removeJob(job.name);
    for (const job of diff.added) this.addJob(job);
    for (const [, job] of diff.changed) this.replaceJob(job, true);
    if (dirChanged) for (const job of diff.unchanged) this.replaceJob(job, true);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const runs: RunningRun[] = [];
    for (const slot of this.slots.values()) {
      slot.task?.cancel();
      slot.removed.abort();
      if (slot.running) runs.push(slot.running);
    }
    // Each run removes its own partial files as it ends; one that outlives agent.stopTimeout leaves a
    // `.partial`, which the next start removes as a leftover.
    await Promise.allSettled([...runs.map((r) => r.done), ...this.background]);
  }

  health(): ModuleHealth {
    const checks = [...this.slots.values()].map((slot) => {
      const state = stateOf(slot);
      const ok = state !== 'failed' && state !== 'unsupported' && state !== 'low_disk';
      const check = { name: slot.job.name, ok, critical: false };
      return ok ? check : { ...check, message: `${state}: ${slot.last?.message ?? ''}`.trim() };
    });
    const failing = checks.filter((c) => !c.ok);
    if (failing.length === 0) return { status: 'ok', checks };
    return { status: 'degraded', message: `backup failing: ${failing.map((c) => c.name).join(', ')}`, checks };
  }

  status(): { dir: string; jobs: JobSummary[] } {
    return { dir: this.config.dir, jobs: [...this.slots.values()].map((slot) => this.summary(slot)) };
  }

  job(name: string): JobDetail {
    const slot = this.slot(name);
    return {
      ...this.summary(slot),
      backups: slot.backups.map((b) => ({
        file: b.file,
        time: b.time.toISOString(),
        sizeBytes: b.sizeBytes,
        sha256: b.manifest?.sha256 ?? null,
        verified: b.verified,
      })),
    };
  }

  /** Starts a run now; resolves once it has started (not finished). A job already running is a conflict. */
  runNow(name: string): JobSummary {
    const slot = this.slot(name);
    if (slot.running) {
      throw new ConflictError(`backup '${name}' is already running (started ${slot.running.startedAt.toISOString()} by ${slot.running.trigger})`);
    }
    this.begin(slot, 'manual');
    return this.summary(slot);
  }

  /** Resolves when start-up scans and every run in progress have finished; for tests and the CLI's one-shot use. */
  async settled(): Promise<void> {
    for (;;) {
      const pending = [...this.background, ...[...this.slots.values()].flatMap((s) => (s.running ? [s.running.done] : []))];
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  private slot(name: string): JobSlot {
    const slot = this.slots.get(name);
    if (!slot) throw new NotFoundError('backup job', name);
    return slot;
  }

  private timeZone(job: BackupJob): string {
    return job.timezone ?? systemTimeZone();
  }

  private addJob(job: BackupJob): void {
    const slot: JobSlot = { job, log: this.ctx.log.child({ backup: job.name }), backups: [], skipped: 0, removed: new AbortController() };
    this.slots.set(job.name, slot);
    initJobMetrics(this.metrics, job.name);
    this.schedule(slot);
    this.track(this.prepare(slot, true));
  }

  /** A changed job keeps its state and a run in progress; its schedule is rebuilt and its directory rescanned. */
  private replaceJob(job: BackupJob, rescan: boolean): void {
    const slot = this.slots.get(job.name);
    if (!slot) return this.addJob(job);
    slot.task?.cancel();
    slot.job = job;
    this.schedule(slot);
    if (rescan) this.track(this.prepare(slot, false));
  }

  private removeJob(name: string): void {
    const slot = this.slots.get(name);
    if (!slot) return;
    slot.task?.cancel();
    slot.removed.abort();
    this.slots.delete(name);
    removeJobMetrics(this.metrics, name);
  }

  private schedule(slot: JobSlot): void {
    const job = slot.job;
    slot.task = this.ctx.schedule({ name: `backup:${job.name}`, cron: job.schedule, timezone: this.timeZone(job) }, async () => {
      const current = this.slots.get(job.name);
      if (!current) return;
      if (current.running) {
        current.skipped++;
        this.metrics.runs.inc({ backup: job.name, result: 'skipped' });
        current.log.warn({ skipped: current.skipped }, 'scheduled backup skipped: previous run still in progress');
        return;
      }
      // Not awaited: the scheduler must keep ticking so an overlapping tick reaches the check above and is counted.
      this.begin(current, 'schedule');
    });
  }

  private track(work: Promise<void>): void {
    this.background.add(work);
    void work.finally(() => this.background.delete(work));
  }

  /** Start-up work for a job: remove leftovers of killed runs, read what is on disk, then catch up a missed run. */
  private async prepare(slot: JobSlot, catchUp: boolean): Promise<void> {
    const { job } = slot;
    const extensions = kindOf(job).extensions;
    await kindOf(job).warmUp?.().catch((err: unknown) => slot.log.warn({ err: describeError(err) }, 'loading the client library failed'));
    try {
      if (!slot.running) {
        const removed = await removeLeftovers(this.config.dir, job.name, extensions);
        if (removed.length > 0) slot.log.info({ files: removed }, 'removed leftovers of an interrupted run');
      }
      this.setBackups(slot, await listBackups(this.config.dir, job.name, extensions));
    } catch (err) {
      slot.log.error({ err: describeError(err) }, 'reading backup directory failed');
      return;
    }
    const newest = slot.backups[0];
    if (newest?.manifest) {
      this.metrics.lastSuccess.set({ backup: job.name }, Date.parse(newest.manifest.finishedAt) / 1000);
      this.metrics.lastSize.set({ backup: job.name }, newest.sizeBytes);
      this.metrics.lastVerify.set({ backup: job.name }, newest.verified ? 1 : 0);
    }
    if (!catchUp || !newest || this.stopped || slot.removed.signal.aborted) return;
    const lastRun = newest.manifest ? new Date(newest.manifest.startedAt) : newest.time;
    const missed = lastMissedRun(job.schedule, this.timeZone(job), lastRun, this.now());
    if (missed && !slot.running && this.slots.get(job.name) === slot) {
      slot.log.info({ missed: missed.toISOString(), lastRun: lastRun.toISOString() }, 'catching up a missed backup');
      this.begin(slot, 'catch-up');
    }
  }

  private setBackups(slot: JobSlot, backups: BackupEntry[]): void {
    slot.backups = backups;
    if (!this.slots.has(slot.job.name)) return;
    this.metrics.files.set({ backup: slot.job.name }, backups.length);
    this.metrics.totalBytes.set({ backup: slot.job.name }, backups.reduce((sum, b) => sum + b.sizeBytes, 0));
  }

  private begin(slot: JobSlot, trigger: Trigger): void {
    if (this.stopped) return;
    const controller = new AbortController();
    const run: RunningRun = { trigger, startedAt: this.now(), controller, done: Promise.resolve() };
    slot.running = run;
    run.done = this.execute(slot, run).finally(() => {
      if (slot.running === run) slot.running = undefined;
    });
  }

  private async execute(slot: JobSlot, run: RunningRun): Promise<void> {
    const job = slot.job;
    const { log } = slot;
    const signal = AbortSignal.any([this.ctx.signal, slot.removed.signal, run.controller.signal]);
    log.info({ trigger: run.trigger }, 'backup started');
    const outcome = await runBackup(job, {
      dir: this.config.dir,
      minFreeSpace: this.config.minFreeSpace,
      signal,
      log,
      now: this.now,
    }).catch((err: unknown): RunOutcome => {
      const at = this.now();
      return { result: 'failure', reason: 'error', message: describeError(err), startedAt: run.startedAt, finishedAt: at, durationMs: at.getTime() - run.startedAt.getTime() };
    });
    const wasFailing = slot.last !== undefined && slot.last.result === 'failure';
    slot.last = { ...outcome, trigger: run.trigger };
    this.record(job.name, outcome);
    if (outcome.result === 'success') {
      log.info({ file: outcome.file, bytes: outcome.sizeBytes, seconds: outcome.durationMs / 1000 }, wasFailing ? 'backup recovered' : 'backup finished');
      try {
        this.setBackups(slot, await pruneJob(job, this.config.dir, log));
      } catch (err) {
        log.error({ err: describeError(err) }, 'retention failed');
      }
    } else if (outcome.reason === 'cancelled') {
      log.info(this.ctx.signal.aborted ? 'backup aborted: stopping' : 'backup cancelled');
    } else {
      // One error line per failure episode; repeats stay at warn.
      const fields = { reason: outcome.reason, err: outcome.message };
      if (wasFailing) log.warn(fields, 'backup failed again');
      else log.error(fields, 'backup failed');
    }
  }

  private record(name: string, outcome: RunOutcome): void {
    if (!this.slots.has(name)) return;
    const labels = { backup: name };
    this.metrics.runs.inc({ backup: name, result: outcome.result });
    this.metrics.lastAttempt.set(labels, outcome.finishedAt.getTime() / 1000);
    this.metrics.lastDuration.set(labels, outcome.durationMs / 1000);
    if (outcome.verifyOk !== undefined) this.metrics.lastVerify.set(labels, outcome.verifyOk ? 1 : 0);
    if (outcome.result === 'success') {
      this.metrics.lastSuccess.set(labels, outcome.finishedAt.getTime() / 1000);
      this.metrics.lastSize.set(labels, outcome.sizeBytes ?? 0);
    }
  }

  private summary(slot: JobSlot): JobSummary {
    const { job, last, running } = slot;
    const lastSuccess = last?.result === 'success' ? last.finishedAt.toISOString() : (slot.backups[0]?.manifest?.finishedAt ?? null);
    return {
      name: job.name,
      type: job.type,
      schedule: job.schedule,
      timezone: this.timeZone(job),
      state: stateOf(slot),
      running: running ? { trigger: running.trigger, startedAt: running.startedAt.toISOString() } : null,
      nextRun: slot.task?.nextRun()?.toISOString() ?? null,
      lastRun: last
        ? {
            trigger: last.trigger,
            result: last.result,
            ...(last.reason ? { reason: last.reason } : {}),
            ...(last.message ? { message: last.message } : {}),
            startedAt: last.startedAt.toISOString(),
            finishedAt: last.finishedAt.toISOString(),
            durationSeconds: last.durationMs / 1000,
            ...(last.file ? { file: last.file, sizeBytes: last.sizeBytes } : {}),
          }
        : null,
      lastSuccessAt: lastSuccess,
      skippedRuns: slot.skipped,
      files: slot.backups.length,
      totalBytes: slot.backups.reduce((sum, b) => sum + b.sizeBytes, 0),
      latest: slot.backups[0]?.file ?? null,
    };
  }
}
