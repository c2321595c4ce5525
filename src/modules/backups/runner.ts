import { join } from 'node:path';
import type { z } from 'zod';
import { describeError } from '../../agent/kit/errors.js';
import { ItemSet, type ItemEntry } from '../../agent/kit/item-set.js';
import type { ModuleContext, ModuleHealth, ModuleInstance } from '../../agent/kit/module.js';
import type { backupFileInfo, jobDetail, jobState, jobSummary, remoteRun, trigger } from './answers.js';
import { lastMissedRun } from './catch-up.js';
import { deleteBackup, listBackups, removeLeftovers, type BackupEntry } from './catalog.js';
import type { BackupJob, BackupsConfig } from './config.js';
import { pingBody, pingJob, reportRun, reportStale } from './job-conditions.js';
import { jobDir } from './backup-files.js';
import { kindOf } from './kinds/table.js';
import { Drills } from './drill/drills.js';
import { drillLabelSets, itemLabelSets, type BackupsMetrics } from './metrics.js';
import { pruneJob } from './prune.js';
import { remoteOf } from './remote/config.js';
import { checkRemote, dumpSettingsFor, sendOffsite, type RemoteOutcome } from './remote/offsite.js';
import { remoteCheckKey, reportRemote } from './remote/conditions.js';
import { RunProgress, runBackup, type RunOutcome } from './run-backup.js';
import { recordTick, takeTurn, type TickRecord, type Turn } from './singleton.js';

export type Trigger = z.infer<typeof trigger>;
export type JobStateName = z.infer<typeof jobState>;

/** What the runner keeps of one job between runs; the item set holds its config, run and schedule. */
interface JobState {
  last?: RunOutcome & { trigger: Trigger; remote?: RemoteOutcome };
  backups: BackupEntry[];
  /** Where staleness counts from for a job that has no success yet. */
  configuredAt: Date;
  /** The run in progress: its step and bytes so far. */
  progress?: RunProgress;
  /** A cluster singleton job: the node running the current tick while this one waits. */
  waitingOn?: string;
  /** A cluster singleton job: the latest tick another node ran. */
  lastElsewhere?: TickRecord & { tick: string };
}

type Job = ItemEntry<BackupJob, JobState>;

/** A run of a cluster singleton job under its lease. */
interface SingletonRun {
  /** The lease's: aborted when it is lost, which kills the dump. */
  signal: AbortSignal;
  beforeCommit(): void;
  /** Records the tick for the other nodes; says why when that was refused (the backup is then removed). */
  committed(file: string): Promise<string | undefined>;
}

export type BackupFileInfo = z.infer<typeof backupFileInfo>;
export type JobSummary = z.infer<typeof jobSummary>;
/** What `GET /backups/:job` answers. */
export type JobDetail = z.infer<typeof jobDetail>;

/** The last success: this process's last run, or the newest backup in the catalog (so it survives a restart). */
/** The newest success of the job here or, for a cluster singleton job, on the node that ran its latest tick. */
function lastSuccessOf(job: Job): Date | undefined {
  const { last, backups, lastElsewhere } = job.item;
  const here = last?.result === 'success' ? last.finishedAt.toISOString() : backups[0]?.manifest?.finishedAt;
  // ISO 8601 strings of one zone sort as the times they name.
  const newest = [here, lastElsewhere?.finishedAt].filter((at) => at !== undefined).sort().at(-1);
  return newest === undefined ? undefined : new Date(newest);
}

/** What `/backups/:job` and `caretaker backups` say of a run whose off-site copy failed. */
function remoteFailedMessage(remote: RemoteOutcome | undefined): string {
  return `local ok, remote failed: ${remote?.message ?? 'unknown cause'}`;
}

function remoteAnswer(remote: RemoteOutcome): z.infer<typeof remoteRun> {
  return {
    result: remote.result,
    ...(remote.result === 'failure' ? { message: remoteFailedMessage(remote) } : {}),
    ...(remote.snapshot ? { snapshot: remote.snapshot, addedBytes: remote.addedBytes } : {}),
    durationSeconds: remote.durationMs / 1000,
    finishedAt: remote.finishedAt.toISOString(),
  };
}

/** How often every job is checked for staleness between its runs. */
const STALE_CHECK_MS = 60_000;

function stateOf(job: Job): JobStateName {
  const { last } = job.item;
  if (job.running) return 'running';
  if (!last) return 'never_run';
  if (last.result === 'success') return last.remote?.result === 'failure' ? 'remote_failed' : 'ok';
  if (last.reason === 'unsupported') return 'unsupported';
  if (last.reason === 'low_disk') return 'low_disk';
  return 'failed';
}

/**
 * The backups module instance: one schedule per job, at most one run per job at a time (an overlapping tick
 * is skipped and counted), a catch-up run at start for a run missed while the agent was down, retention
 * after each success. Results are state and metrics; only a caller's mistake (unknown job, busy job) throws.
 */
export class BackupRunner implements ModuleInstance<BackupsConfig> {
  private config: BackupsConfig;
  private readonly jobs: ItemSet<BackupJob, JobState>;
  private readonly drills: Drills;

  constructor(
    private readonly ctx: ModuleContext,
    config: BackupsConfig,
    private readonly metrics: BackupsMetrics,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.config = config;
    this.drills = new Drills(ctx, metrics, () => this.config, now);
    this.jobs = new ItemSet<BackupJob, JobState>({
      ctx,
      noun: 'backup job',
      logKey: 'backup',
      runName: 'backup',
      now,
      create: () => ({ backups: [], configuredAt: now() }),
      // A changed job keeps its state and a run in progress; its schedule is rebuilt and its directory rescanned.
      update: (state) => state,
      labelSets: (job) => [...itemLabelSets(metrics, job.name, remoteOf(this.config, job) !== undefined), ...drillLabelSets(metrics, job)],
      onSkipped: (job) => metrics.runs.inc({ backup: job.name, result: 'skipped' }),
    });
  }

  async start(): Promise<void> {
    for (const job of this.config.jobs) this.prepare(this.jobs.add(job), true);
    // A run in progress decides for its job when it ends.
    this.ctx.schedule({ name: 'backups:stale', everyMs: STALE_CHECK_MS }, async () => {
      for (const job of this.jobs.values()) if (!job.running) this.checkStale(job);
    });
  }

  async reload(next: BackupsConfig): Promise<void> {
    const dirChanged = next.dir !== this.config.dir;
    this.config = next;
    const diff = await this.jobs.apply(next.jobs);
    for (const job of diff.added) this.prepare(this.jobs.get(job.name), true);
    for (const [, job] of diff.changed) this.prepare(this.jobs.get(job.name), false);
    if (dirChanged) for (const job of diff.unchanged) this.prepare(this.jobs.get(job.name), false);
  }

  async stop(): Promise<void> {
    // Each run removes its own partial files as it ends; one that outlives agent.stopTimeout leaves a
    // `.partial`, which the next start removes as a leftover.
    // Start-up scans and drills are tracked through ctx.track: the agent waits for them beside this.
    await this.jobs.stop({ keepListed: true });
  }

  health(): ModuleHealth {
    const checks = this.jobs.values().map((job) => {
      const state = stateOf(job);
      const ok = state !== 'failed' && state !== 'unsupported' && state !== 'low_disk' && state !== 'remote_failed';
      const check = { name: job.name, ok, critical: false };
      const message = state === 'remote_failed' ? remoteFailedMessage(job.item.last?.remote) : `${state}: ${job.item.last?.message ?? ''}`.trim();
      return ok ? check : { ...check, message };
    });
    const failing = checks.filter((c) => !c.ok);
    if (failing.length === 0) return { status: 'ok', checks };
    return { status: 'degraded', message: `backup failing: ${failing.map((c) => c.name).join(', ')}`, checks };
  }

  status(): { dir: string; jobs: JobSummary[] } {
    return { dir: this.config.dir, jobs: this.jobs.values().map((job) => this.summary(job)) };
  }

  job(name: string): JobDetail {
    const job = this.jobs.get(name);
    return {
      ...this.summary(job),
      backups: job.item.backups.map((b) => ({
        file: b.file,
        time: b.time.toISOString(),
        sizeBytes: b.sizeBytes,
        sha256: b.manifest?.sha256 ?? null,
        verified: b.verified,
        remoteSnapshot: b.manifest?.remote?.snapshot ?? null,
      })),
    };
  }

  /** Starts a run now; resolves once it has started (not finished). A job already running is a conflict. */
  runNow(name: string): JobSummary {
    this.begin(name, 'manual');
    return this.summary(this.jobs.get(name));
  }

  /** Starts a restore drill now, beside any backup run; resolves once it has started. A drill in progress is a conflict. */
  drillNow(name: string): JobSummary {
    const job = this.jobs.get(name);
    this.drills.runNow(job);
    return this.summary(job);
  }

  /**
   * (Re)schedules a job, then in the background: removes leftovers of killed runs (not while one runs),
   * reads what is on disk and, when `catchUp`, catches up a run missed while the agent was down.
   */
  private prepare(job: Job, catchUp: boolean): void {
    const config = job.config;
    // Not awaited by the scheduler: a cron tick only starts the run, so an overlapping tick is skipped and counted.
    this.jobs.schedule(job.name, { name: `backup:${config.name}`, cron: config.schedule, timezone: config.timezone }, (j, due) => this.execute(j, 'schedule', due));
    const remote = remoteOf(this.config, config);
    if (remote?.check) {
      const { schedule, readDataSubset } = remote.check;
      this.jobs.schedule(job.name, { name: `backup:${config.name}:check`, cron: schedule, timezone: config.timezone }, (j, due) => this.checkRemoteOnce(j, readDataSubset, due));
    }
    this.drills.prepare(job);
    const work = this.scan(job, catchUp);
    this.ctx.track(work);
  }

  private async scan(job: Job, catchUp: boolean): Promise<void> {
    const config = job.config;
    const { log, item: state } = job;
    const extensions = kindOf(config).extensions;
    await kindOf(config).warmUp?.().catch((err: unknown) => log.warn({ err: describeError(err) }, 'loading the client library failed'));
    try {
      if (!job.running) {
        const removed = await removeLeftovers(this.config.dir, config.name, extensions);
        if (removed.length > 0) log.info({ files: removed }, 'removed leftovers of an interrupted run');
      }
      this.setBackups(job, await listBackups(this.config.dir, config.name, extensions));
    } catch (err) {
      log.error({ err: describeError(err) }, 'reading backup directory failed');
      return;
    }
    const newest = state.backups[0];
    if (newest?.manifest) {
      this.metrics.lastSuccess.set({ backup: config.name }, Date.parse(newest.manifest.finishedAt) / 1000);
      this.metrics.lastSize.set({ backup: config.name }, newest.sizeBytes);
      this.metrics.lastVerify.set({ backup: config.name }, newest.verified ? 1 : 0);
    }
    if (!job.running && !job.signal.aborted) this.checkStale(job);
    if (!catchUp || !newest || job.signal.aborted) return;
    const lastRun = newest.manifest ? new Date(newest.manifest.startedAt) : newest.time;
    const missed = lastMissedRun(config.schedule, config.timezone, lastRun, this.now());
    if (missed && !job.running) {
      log.info({ missed: missed.toISOString(), lastRun: lastRun.toISOString() }, 'catching up a missed backup');
      this.begin(job.name, 'catch-up', missed);
    }
  }

  private setBackups(job: Job, backups: BackupEntry[]): void {
    job.item.backups = backups;
    if (job.signal.aborted) return;
    this.metrics.files.set({ backup: job.name }, backups.length);
    this.metrics.totalBytes.set({ backup: job.name }, backups.reduce((sum, b) => sum + b.sizeBytes, 0));
  }

  private begin(name: string, trigger: Trigger, scheduledAt?: Date): void {
    void this.jobs.begin(name, trigger, (job) => this.execute(job, trigger, scheduledAt)).done.catch(() => undefined);
  }

  /**
   * A run of the job. A `cluster: singleton` job's scheduled and catch-up runs happen on the node that takes
   * the job's lease for the tick; the others record which node ran it. `caretaker backups run` runs here.
   */
  private async execute(job: Job, trigger: Trigger, scheduledAt?: Date): Promise<void> {
    const cluster = job.config.cluster === 'singleton' && trigger !== 'manual' ? this.ctx.cluster.current() : undefined;
    if (!cluster) return this.runHere(job, trigger);
    const tick = (scheduledAt ?? job.running?.startedAt ?? this.now()).toISOString();
    const progress = (job.item.progress = new RunProgress());
    progress.step = 'waiting';
    // A holder that never finishes is killed by its own timeout; waiting longer than that plus a TTL is pointless.
    const wait = AbortSignal.any([job.signal, AbortSignal.timeout(job.config.timeout + cluster.leaseTtlMs)]);
    const turn = await takeTurn(cluster, job.name, tick, wait, (holder) => (job.item.waitingOn = holder)).catch(
      (err: unknown): Turn => ({ kind: 'unreachable', message: describeError(err) }),
    );
    job.item.waitingOn = undefined;
    if (turn.kind === 'elsewhere') {
      job.item.lastElsewhere = { tick, ...turn.record };
      job.log.info({ tick, node: turn.record.node, file: turn.record.file }, `backup ran on node ${turn.record.node}`);
      if (!job.signal.aborted) this.checkStale(job);
      return;
    }
    if (turn.kind === 'unreachable') {
      if (job.signal.aborted) return;
      this.metrics.runs.inc({ backup: job.name, result: 'skipped' });
      job.log.warn({ tick, err: turn.message }, 'singleton backup not run: no node can be sure it alone runs this tick');
      return;
    }
    const { lease } = turn;
    try {
      await this.runHere(job, trigger, {
        signal: lease.signal,
        beforeCommit: () => lease.check(),
        committed: async (file) => {
          try {
            await recordTick(cluster, job.name, tick, lease, { node: cluster.node, file, finishedAt: this.now().toISOString() });
            return undefined;
          } catch (err) {
            // A newer holder runs this tick: what this node made must not count as a second good backup of it.
            const entry = (await listBackups(this.config.dir, job.name, kindOf(job.config).extensions)).find((b) => b.file === file);
            if (entry) await deleteBackup(entry);
            return `${describeError(err)}; the backup it made was removed`;
          }
        },
      });
    } finally {
      await lease.release();
    }
  }

  private async runHere(job: Job, trigger: Trigger, singleton?: SingletonRun): Promise<void> {
    const { log, item: state } = job;
    const startedAt = job.running?.startedAt ?? this.now();
    log.info({ trigger }, 'backup started');
    // Not awaited before the run, so a slow ping service never delays the backup; awaited before the result's ping, so it arrives first.
    const started = pingJob(job.config, 'start', log, job.signal);
    const remote = remoteOf(this.config, job.config);
    const progress = (state.progress = new RunProgress());
    let outcome: RunOutcome & { remote?: RemoteOutcome } = await runBackup(dumpSettingsFor(job.config, remote), {
      dir: this.config.dir,
      minFreeSpace: this.config.minFreeSpace,
      signal: singleton ? AbortSignal.any([job.signal, singleton.signal]) : job.signal,
      log,
      now: this.now,
      progress,
      ...(singleton ? { beforeCommit: singleton.beforeCommit } : {}),
    }).catch((err: unknown): RunOutcome => {
      const at = this.now();
      return { result: 'failure', reason: 'error', message: describeError(err), startedAt, finishedAt: at, durationMs: at.getTime() - startedAt.getTime() };
    });
    if (singleton && outcome.result === 'failure' && singleton.signal.aborted && !job.signal.aborted) {
      outcome = { ...outcome, reason: 'cancelled', message: `${describeError(singleton.signal.reason)}: another node runs this tick` };
    }
    if (singleton && outcome.result === 'success' && outcome.file) {
      const refused = await singleton.committed(outcome.file);
      if (refused) outcome = { result: 'failure', reason: 'cancelled', message: refused, startedAt: outcome.startedAt, finishedAt: outcome.finishedAt, durationMs: outcome.durationMs };
    }
    // Only a verified backup goes off-site; a failed dump never reaches the repository.
    if (remote && outcome.result === 'success' && outcome.file && !job.signal.aborted) {
      const path = join(jobDir(this.config.dir, job.name), outcome.file);
      const timeoutMs = Math.max(1000, job.config.timeout - outcome.durationMs);
      progress.step = 'offsite';
      outcome.remote = await sendOffsite(job.config, remote, path, { signal: job.signal, log, now: this.now, cacheDir: join(this.ctx.stateDir, 'restic-cache'), timeoutMs });
    }
    const wasFailing = state.last !== undefined && state.last.result === 'failure';
    state.last = { ...outcome, trigger };
    // A job removed meanwhile records nothing, so its label sets and conditions stay gone.
    if (!job.signal.aborted) {
      this.record(job.name, outcome);
      reportRun(this.ctx.conditions, job.name, outcome);
      if (outcome.remote) this.recordRemote(job.name, outcome.remote);
      this.checkStale(job);
    }
    await started;
    if (outcome.reason !== 'cancelled') await pingJob(job.config, outcome.result === 'success' ? 'success' : 'fail', log, job.signal, pingBody(job.name, outcome));
    if (outcome.result === 'success') {
      log.info({ file: outcome.file, bytes: outcome.sizeBytes, seconds: outcome.durationMs / 1000 }, wasFailing ? 'backup recovered' : 'backup finished');
      if (outcome.remote?.result === 'success') log.info({ snapshot: outcome.remote.snapshot, addedBytes: outcome.remote.addedBytes }, 'backup sent off-site');
      else if (outcome.remote) log.error({ err: outcome.remote.message }, 'off-site copy failed; the local backup is kept');
      try {
        this.setBackups(job, await pruneJob(job.config, this.config.dir, log));
      } catch (err) {
        log.error({ err: describeError(err) }, 'retention failed');
      }
    } else if (outcome.reason === 'cancelled') {
      // A stop is said by the item set ('backup aborted: stopping').
      if (!this.ctx.signal.aborted) log.info('backup cancelled');
    } else {
      // One error line per failure episode; repeats stay at warn.
      const fields = { reason: outcome.reason, err: outcome.message };
      if (wasFailing) log.warn(fields, 'backup failed again');
      else log.error(fields, 'backup failed');
    }
  }

  private recordRemote(name: string, remote: RemoteOutcome): void {
    this.metrics.remoteRuns.inc({ backup: name, result: remote.result });
    if (remote.result === 'success') {
      this.metrics.remoteLastSuccess.set({ backup: name }, remote.finishedAt.getTime() / 1000);
      this.metrics.remoteAddedBytes.set({ backup: name }, remote.addedBytes ?? 0);
    }
    reportRemote(this.ctx.conditions, name, remote);
  }

  /** A cluster singleton job's repository is shared: one node checks it per scheduled time. */
  private async checkRemoteOnce(job: Job, readDataSubset: string, due: Date): Promise<void> {
    const cluster = job.config.cluster === 'singleton' ? this.ctx.cluster.current() : undefined;
    if (!cluster) return this.checkRemote(job, readDataSubset);
    const turn = await takeTurn(cluster, `${job.name}:check`, due.toISOString(), job.signal, () => undefined).catch((err: unknown): Turn => ({ kind: 'unreachable', message: describeError(err) }));
    if (turn.kind === 'elsewhere') return job.log.info({ node: turn.record.node }, `remote repository checked by node ${turn.record.node}`);
    if (turn.kind === 'unreachable') return job.log.warn({ err: turn.message }, 'remote repository check not run: no node can be sure it alone runs it');
    try {
      await this.checkRemote(job, readDataSubset);
      await recordTick(cluster, `${job.name}:check`, due.toISOString(), turn.lease, { node: cluster.node, file: '', finishedAt: this.now().toISOString() }).catch(() => undefined);
    } finally {
      await turn.lease.release();
    }
  }

  /** The scheduled restic check of the job's repository; its result is a gauge and a condition, never the job's state. */
  private async checkRemote(job: Job, readDataSubset: string): Promise<void> {
    const remote = remoteOf(this.config, job.config);
    if (!remote) return;
    const key = remoteCheckKey(job.name);
    try {
      await checkRemote(remote, join(this.ctx.stateDir, 'restic-cache'), readDataSubset, job.signal);
      this.metrics.remoteCheck.set({ backup: job.name }, 1);
      this.ctx.conditions.resolve(key);
      job.log.info({ readDataSubset }, 'remote repository checked');
    } catch (err) {
      if (job.signal.aborted) return;
      this.metrics.remoteCheck.set({ backup: job.name }, 0);
      this.ctx.conditions.fire({ key, severity: 'critical', summary: `restic check of backup ${job.name} failed`, detail: describeError(err), item: job.name });
      job.log.error({ err: describeError(err) }, 'remote repository check failed');
    }
  }

  private checkStale(job: Job): void {
    const lastSuccess = lastSuccessOf(job);
    reportStale(this.ctx.conditions, job.config, lastSuccess ?? job.item.configuredAt, lastSuccess !== undefined, this.now());
  }

  private record(name: string, outcome: RunOutcome): void {
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

  private runningAnswer(running: NonNullable<Job['running']>, progress: RunProgress | undefined): NonNullable<JobSummary['running']> {
    return {
      trigger: running.trigger as Trigger,
      startedAt: running.startedAt.toISOString(),
      elapsedSeconds: Math.max(0, (this.now().getTime() - running.startedAt.getTime()) / 1000),
      // Set as the run's execute begins; a run without one has not started its dump.
      step: progress?.step ?? 'dump',
      bytes: progress ? progress.bytes() : 0,
    };
  }

  private summary(job: Job): JobSummary {
    const { config, running } = job;
    const { last, backups } = job.item;
    return {
      name: config.name,
      type: config.type,
      schedule: config.schedule,
      timezone: config.timezone,
      state: stateOf(job),
      running: running ? this.runningAnswer(running, job.item.progress) : null,
      nextRun: job.tasks.get(`backup:${config.name}`)?.nextRun()?.toISOString() ?? null,
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
            ...(last.remote ? { remote: remoteAnswer(last.remote) } : {}),
          }
        : null,
      lastSuccessAt: lastSuccessOf(job)?.toISOString() ?? null,
      skippedRuns: job.skipped,
      files: backups.length,
      totalBytes: backups.reduce((sum, b) => sum + b.sizeBytes, 0),
      latest: backups[0]?.file ?? null,
      drill: this.drills.answer(job),
      cluster:
        config.cluster === 'singleton' && this.ctx.cluster.current()
          ? { mode: 'singleton', waitingOn: job.item.waitingOn ?? null, lastElsewhere: job.item.lastElsewhere ?? null }
          : null,
    };
  }
}
