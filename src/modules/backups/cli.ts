import { realpath, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import type { z } from 'zod';
import {
  EXIT,
  ApiError,
  DaemonUnreachableError,
  formatBytes,
  formatTable,
  isNotConfigured,
  NOT_CONFIGURED,
  startProgress,
  type CliCommand,
  type CommandContext,
} from '../../agent/kit/cli.js';
import { CaretakerError, ConfigError, describeError } from '../../agent/kit/errors.js';
import type { runStartedAnswer } from './answers.js';
import { listBackups } from './catalog.js';
import type { BackupsConfig } from './config.js';
import { kindOf } from './kinds/table.js';
import { planPrune } from './prune.js';
import { REMOTE_PREFIX, backupPathIn, fetchRemoteBackup, listRemote, sha256Tag } from './remote/fetch.js';
import { drawReads } from './read-progress.js';
import { findJob, resolveBackupFile, restoreBackup, restoreTarget, verifyBackup } from './restore.js';
import type { BackupFileInfo, JobDetail, JobSummary } from './runner.js';

const USAGE =
  'caretaker backups [run JOB | watch JOB | list JOB [--remote] | verify JOB FILE | restore JOB FILE|remote:latest|remote:SNAPSHOT [--to URL] [--globals=no] [--yes] | prune JOB --dry-run | drill JOB]';
const RUN_POLL_MS = 1000;
/** `run` waits at most this long for the run it started (the longest sensible job timeout). */
const RUN_WAIT_MS = 24 * 3_600_000;

async function section(ctx: CommandContext): Promise<BackupsConfig> {
  const config = (await ctx.loadSection()) as BackupsConfig | undefined;
  if (!config) throw new CaretakerError(404, NOT_CONFIGURED, 'the backups module is not configured (no \'backups\' section in the config)');
  return config;
}

function print(ctx: CommandContext, data: unknown, human: () => string): void {
  ctx.out(ctx.json ? JSON.stringify(data, null, 2) : human());
}

/** `3 days ago`, in the largest whole unit. */
function ago(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const units: Array<[string, number]> = [['day', 86_400], ['hour', 3_600], ['minute', 60]];
  for (const [unit, size] of units) {
    const n = Math.floor(seconds / size);
    if (n >= 1) return `${n} ${unit}${n === 1 ? '' : 's'} ago`;
  }
  return 'just now';
}

/** The restore drill in one phrase: `passed 3 days ago`, `FAILED 2 hours ago`. */
function drillPhrase(drill: JobSummary['drill'], now = Date.now()): string {
  if (!drill) return '-';
  if (drill.running) return 'running';
  const last = drill.last;
  if (!last) return 'never run';
  const word = { success: 'passed', failure: 'FAILED', skipped: 'skipped' }[last.result];
  return `${word} ${ago(last.finishedAt, now)}`;
}

function jobsTable(jobs: JobSummary[]): string {
  if (jobs.length === 0) return 'no backup jobs configured';
  return formatTable(
    ['JOB', 'TYPE', 'STATE', 'LAST SUCCESS', 'FILES', 'SIZE', 'NEXT RUN', 'RESTORE DRILL'],
    jobs.map((j) => [j.name, j.type, j.state, j.lastSuccessAt ?? '-', String(j.files), formatBytes(j.totalBytes), j.nextRun ?? '-', drillPhrase(j.drill)]),
  );
}

function filesTable(files: BackupFileInfo[]): string {
  if (files.length === 0) return 'no backups yet';
  return formatTable(
    ['FILE', 'SIZE', 'VERIFIED', 'REMOTE', 'SHA256'],
    files.map((f) => [f.file, formatBytes(f.sizeBytes), f.verified ? 'yes' : 'no', f.remoteSnapshot ?? '-', f.sha256 ?? '-']),
  );
}

/** A failed state, with the off-site cause of a job whose local backup is fine. */
const failing = (j: JobSummary) => j.state === 'failed' || j.state === 'unsupported' || j.state === 'low_disk' || j.state === 'remote_failed';

async function overview(ctx: CommandContext): Promise<number> {
  const status = await ctx.client.get<{ jobs: JobSummary[] }>('/backups');
  print(ctx, status, () =>
    [jobsTable(status.jobs), ...status.jobs.filter((j) => j.state === 'remote_failed').map((j) => `${j.name}: ${j.lastRun?.remote?.message ?? 'local ok, remote failed'}`)].join('\n'),
  );
  return status.jobs.some(failing) ? EXIT.failure : EXIT.ok;
}

async function run(ctx: CommandContext, job: string): Promise<number> {
  const { job: started } = await ctx.client.post<z.infer<typeof runStartedAnswer>>(`/backups/${encodeURIComponent(job)}/run`);
  if (!ctx.json) ctx.err(`backup '${job}' started`);
  return follow(ctx, job, started.running?.startedAt);
}

/** Follows a run someone else started (the schedule, a catch-up, another shell) to its end, as `run` does its own. */
async function watch(ctx: CommandContext, job: string): Promise<number> {
  const detail = await ctx.client.get<JobDetail>(`/backups/${encodeURIComponent(job)}`);
  if (!detail.running) {
    const last = detail.lastRun;
    const said = last ? `; the last one ${last.result === 'success' ? 'succeeded' : 'failed'} at ${last.finishedAt}` : '';
    ctx.err(`no backup of '${job}' is running${said} (see 'caretaker backups list ${job}')`);
    return EXIT.nothingRunning;
  }
  if (!ctx.json) ctx.err(`following the backup of '${job}' started ${detail.running.startedAt} (${detail.running.trigger})`);
  return follow(ctx, job, detail.running.startedAt);
}

/** Polls the run that started at `startedAt` (bytes and rate on a terminal) and prints its result: exit 0 when it succeeded, 1 otherwise. */
async function follow(ctx: CommandContext, job: string, startedAt: string | undefined): Promise<number> {
  const path = `/backups/${encodeURIComponent(job)}`;
  const progress = await startProgress(ctx, `backup '${job}'`);
  let shown: string | undefined;
  const deadline = Date.now() + RUN_WAIT_MS;
  try {
    for (;;) {
      await sleep(RUN_POLL_MS);
      const detail = await ctx.client.get<JobDetail>(path);
      const finished = detail.running === null || (startedAt !== undefined && detail.running.startedAt !== startedAt);
      if (finished && detail.lastRun && (startedAt === undefined || detail.lastRun.startedAt >= startedAt)) {
        progress?.end();
        return result(ctx, job, detail.lastRun);
      }
      const running = finished ? null : detail.running;
      // Bytes grow only while the dump runs: the verify and off-site steps are shown once, without a rate that
      // would fall to 0. A directory backup has no byte count while pg_dump fills it: the line waits for its verify.
      if (running && running.bytes !== null && (running.step === 'dump' || running.step !== shown)) {
        progress?.update(running.bytes, undefined, running.step);
        shown = running.step;
      }
      if (Date.now() > deadline) {
        progress?.end();
        ctx.err(`backup '${job}' is still running; see 'caretaker backups list ${job}'`);
        return EXIT.failure;
      }
    }
  } finally {
    progress?.end();
  }
}

function result(ctx: CommandContext, job: string, last: NonNullable<JobDetail['lastRun']>): number {
  const remoteFailed = last.remote?.result === 'failure';
  print(ctx, last, () => {
    if (last.result !== 'success') return `backup '${job}' failed (${last.reason}): ${last.message ?? ''}`;
    const local = `${last.file} (${formatBytes(last.sizeBytes ?? 0)}, ${last.durationSeconds.toFixed(1)} s)`;
    if (remoteFailed) return `backup '${job}': ${last.remote?.message ?? 'local ok, remote failed'} (local backup ${local} kept)`;
    const remote = last.remote?.snapshot ? `; off-site snapshot ${last.remote.snapshot} (+${formatBytes(last.remote.addedBytes ?? 0)})` : '';
    return `backup '${job}' succeeded: ${local}${remote}`;
  });
  return last.result === 'success' && !remoteFailed ? EXIT.ok : EXIT.failure;
}

/**
 * Runs `work` while a terminal shows how far the tools it starts read the backup (its checksum, its check,
 * its restore, each from 0 under its own name). A directory backup (pg_dump -Fd) shows none.
 */
async function withReadProgress<T>(ctx: CommandContext, label: string, path: string, work: () => Promise<T>): Promise<T> {
  const progress = await startProgress(ctx, label);
  if (!progress) return work();
  // A missing file is for `work` to report, with its errno; the tools' descriptors name the real path.
  const real = await realpath(path).catch(() => undefined);
  const info = real === undefined ? undefined : await stat(real);
  const stop = real && info?.isFile() ? drawReads(real, info.size, progress) : async () => undefined;
  try {
    return await work();
  } finally {
    await stop();
    progress.end();
  }
}

/** The job's snapshots in its restic repository, read by this process (works with the daemon stopped). */
async function listOffsite(ctx: CommandContext, job: string): Promise<number> {
  const config = await section(ctx);
  const snapshots = (await listRemote(config, findJob(config, job), new AbortController().signal)).map((s) => ({
    snapshot: s.shortId,
    id: s.id,
    time: s.time,
    hostname: s.hostname,
    file: backupPathIn(s)?.split('/').pop() ?? null,
    sha256: sha256Tag(s) ?? null,
  }));
  print(ctx, snapshots, () =>
    snapshots.length === 0 ? 'no remote snapshots yet' : formatTable(['SNAPSHOT', 'TIME', 'HOST', 'FILE', 'SHA256'], snapshots.map((s) => [s.snapshot, s.time, s.hostname, s.file ?? '-', s.sha256 ?? '-'])),
  );
  return EXIT.ok;
}

async function list(ctx: CommandContext, job: string): Promise<number> {
  if (ctx.flags.remote === true) return listOffsite(ctx, job);
  try {
    const detail = await ctx.client.get<JobDetail>(`/backups/${encodeURIComponent(job)}`);
    print(ctx, detail.backups, () => filesTable(detail.backups));
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof DaemonUnreachableError)) throw err;
  }
  // The files are on this host: with the daemon stopped, read the directory directly.
  const config = await section(ctx);
  const definition = findJob(config, job);
  const files = (await listBackups(config.dir, job, kindOf(definition).extensions)).map((b) => ({
    file: b.file,
    time: b.time.toISOString(),
    sizeBytes: b.sizeBytes,
    sha256: b.manifest?.sha256 ?? null,
    verified: b.verified,
    remoteSnapshot: b.manifest?.remote?.snapshot ?? null,
  }));
  print(ctx, files, () => filesTable(files));
  return EXIT.ok;
}

async function verify(ctx: CommandContext, job: string, file: string): Promise<number> {
  const config = await section(ctx);
  const path = await resolveBackupFile(config, findJob(config, job), file);
  const result = await withReadProgress(ctx, `verify '${job}'`, path, () => verifyBackup(config, job, file, new AbortController().signal));
  print(ctx, result, () =>
    result.ok
      ? `${result.path}: OK (${result.method}${result.hasManifest ? '' : '; no manifest, checksum not compared'})`
      : `${result.path}: FAILED: ${result.message ?? 'verification failed'}`,
  );
  return result.ok ? EXIT.ok : EXIT.failure;
}

async function restore(ctx: CommandContext, job: string, file: string): Promise<number> {
  const config = await section(ctx);
  const to = typeof ctx.flags.to === 'string' ? ctx.flags.to : undefined;
  const target = restoreTarget(config, job, to);
  if (ctx.flags.yes !== true && !(await ctx.confirm(`Restore ${file} of '${job}' into ${target}? Existing data there is overwritten.`))) {
    ctx.err('restore not confirmed; nothing changed (use --yes in scripts)');
    return EXIT.failure;
  }
  if (!ctx.json) ctx.err(`restoring ${file} into ${target}…`);
  // `--globals=no` restores the database without the roles saved beside it (e.g. into a scratch database on a shared server).
  const companions = ctx.flags.globals !== 'no';
  const signal = new AbortController().signal;
  const log = pino({ level: 'silent' });
  if (!file.startsWith(REMOTE_PREFIX)) {
    const path = await resolveBackupFile(config, findJob(config, job), file);
    const result = await withReadProgress(ctx, `restore '${job}'`, path, () => restoreBackup(config, { job, file, to, companions, signal, log }));
    print(ctx, { restored: result.path, target, verify: result.verify, notes: result.notes }, () => [`restored ${result.path} into ${target}`, ...result.notes].join('\n'));
    return EXIT.ok;
  }
  // Fetched beside the local backups, then checked and restored exactly as a local file is.
  const fetched = await fetchRemoteBackup(config, findJob(config, job), file, signal);
  try {
    const result = await withReadProgress(ctx, `restore '${job}'`, fetched.path, () => restoreBackup(config, { job, file: fetched.path, to, companions, signal, log }));
    const restored = `remote:${fetched.snapshot.shortId}`;
    print(ctx, { restored, snapshot: fetched.snapshot.id, target, verify: result.verify, notes: result.notes }, () =>
      [`restored ${restored} (${fetched.path.split('/').pop()}) into ${target}`, ...result.notes].join('\n'),
    );
    return EXIT.ok;
  } finally {
    await fetched.cleanup();
  }
}

/** Runs a restore drill in the daemon and waits for its result: exit 0 when it passed, 1 with the reason otherwise. */
async function drill(ctx: CommandContext, job: string): Promise<number> {
  const path = `/backups/${encodeURIComponent(job)}`;
  const { job: started } = await ctx.client.post<z.infer<typeof runStartedAnswer>>(`${path}/drill`);
  const startedAt = started.drill?.running?.startedAt ?? '';
  if (!ctx.json) ctx.err(`restore drill of '${job}' started`);
  const deadline = Date.now() + RUN_WAIT_MS;
  for (;;) {
    await sleep(RUN_POLL_MS);
    const state = (await ctx.client.get<JobDetail>(path)).drill;
    const last = state?.last;
    if (state && !state.running && last && last.startedAt >= startedAt) {
      print(ctx, last, () =>
        last.result === 'success'
          ? `restore drill of '${job}' passed: ${last.file ?? ''} (${last.message}, ${last.durationSeconds.toFixed(1)} s)`
          : `restore drill of '${job}' ${last.result === 'skipped' ? 'skipped' : 'failed'}: ${last.file ? `${last.file}: ` : ''}${last.message}`,
      );
      return last.result === 'success' ? EXIT.ok : EXIT.failure;
    }
    if (Date.now() > deadline) {
      ctx.err(`the restore drill of '${job}' is still running; see 'caretaker backups'`);
      return EXIT.failure;
    }
  }
}

async function prune(ctx: CommandContext, job: string): Promise<number> {
  if (ctx.flags['dry-run'] !== true) {
    ctx.err('retention runs after every successful backup; use --dry-run to preview it');
    return EXIT.usage;
  }
  const config = await section(ctx);
  const definition = findJob(config, job);
  const plan = planPrune(definition, await listBackups(config.dir, job, kindOf(definition).extensions));
  const data = {
    keep: plan.keep.map((k) => ({ file: k.entry.file, reasons: k.reasons })),
    remove: plan.remove.map((r) => r.file),
  };
  print(ctx, data, () =>
    formatTable(
      ['FILE', 'ACTION', 'WHY'],
      [...data.keep.map((k) => [k.file, 'keep', k.reasons.join(',')]), ...data.remove.map((f) => [f, 'remove', ''])],
    ),
  );
  return EXIT.ok;
}

async function dispatch(ctx: CommandContext): Promise<number> {
  const [verb, job, file] = ctx.args;
  switch (verb) {
    case undefined:
      return overview(ctx);
    case 'run':
      if (job) return run(ctx, job);
      break;
    case 'watch':
      if (job) return watch(ctx, job);
      break;
    case 'list':
      if (job) return list(ctx, job);
      break;
    case 'verify':
      if (job && file) return verify(ctx, job, file);
      break;
    case 'restore':
      if (job && file) return restore(ctx, job, file);
      break;
    case 'prune':
      if (job) return prune(ctx, job);
      break;
    case 'drill':
      if (job) return drill(ctx, job);
      break;
  }
  ctx.err(`usage: ${USAGE}`);
  return EXIT.usage;
}

export const backupCommands: CliCommand[] = [
  {
    name: 'backups',
    summary: 'backup jobs: state, run now, watch a run, list, verify, restore, retention preview, restore drill',
    usage: USAGE,
    async run(ctx) {
      try {
        return await dispatch(ctx);
      } catch (err) {
        if (err instanceof DaemonUnreachableError) {
          ctx.err(err.message);
          return EXIT.unavailable;
        }
        if (err instanceof ApiError || err instanceof CaretakerError) {
          ctx.err(err.message);
          // A config the command could not load (a credential it cannot read) is EX_CONFIG, as from check-config.
          if (isNotConfigured(err) || err instanceof ConfigError) return EXIT.config;
          // An unknown job or a FILE that is no backup file is the caller's mistake, as a usage error is.
          return err.status === 404 || err.status === 400 ? EXIT.usage : EXIT.failure;
        }
        ctx.err(`backups: ${describeError(err)}`);
        return EXIT.failure;
      }
    },
  },
];
