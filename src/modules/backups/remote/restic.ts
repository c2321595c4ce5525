import { open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ExecError, execFile } from '../../../agent/kit/exec.js';
import { describeError } from '../../../agent/kit/errors.js';
import { redactUrl } from '../../../agent/kit/redact-url.js';
import type { RetentionPolicy } from '../retention.js';
import { spawnToFile } from '../spawn-stream.js';
import { backendOf, type RemoteConfig } from './config.js';

/** Why a restic command failed, when a caller or a person acts on it differently. */
export type RemoteFailure = 'no_repository' | 'wrong_password' | 'error';

export class RemoteError extends Error {
  readonly code = 'REMOTE_FAILED';
  constructor(
    message: string,
    readonly failure: RemoteFailure,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}

/** What `restic backup --json` says in its last line. */
export interface BackupSummary {
  snapshotId: string;
  addedBytes: number;
  durationMs: number;
}

export interface Snapshot {
  id: string;
  shortId: string;
  time: string;
  paths: string[];
  tags: string[];
  hostname: string;
}

/** One restic lock file, as `restic cat lock` shows it. */
interface LockInfo {
  hostname: string;
  pid: number;
}

/** A run of `restic backup` with a whole day's dump may take hours; other commands are bounded by the job's timeout. */
const COMMAND_TIMEOUT_MS = 6 * 3_600_000;

/** The repository as it may be shown: a rest: URL's password masked, nothing else of the config. */
export function describeRepository(repository: string): string {
  const backend = backendOf(repository);
  if (backend !== 'rest') return repository;
  return `rest:${redactUrl(repository.slice('rest:'.length))}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** restic's `--time` format, read in the child's TZ (UTC, set in env()). */
function resticTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * Drives the restic binary for one repository. The password and the backend's credentials go into the
 * child's environment only (never argv, never a log line); every error says what to do about it.
 */
export class Restic {
  private readonly secrets: string[];

  constructor(
    private readonly remote: RemoteConfig,
    /** restic's cache; undefined runs with --no-cache (a CLI restore on a host without the agent's state dir). */
    private readonly cacheDir: string | undefined,
  ) {
    this.secrets = [remote.password, ...Object.values(remote.env)].filter((s) => s.length >= 4);
  }

  get repository(): string {
    return describeRepository(this.remote.repository);
  }

  private env(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
      TZ: 'UTC',
      ...this.remote.env,
      RESTIC_REPOSITORY: this.remote.repository,
      RESTIC_PASSWORD: this.remote.password,
    };
  }

  private globalArgs(): string[] {
    const args = this.cacheDir ? ['--cache-dir', this.cacheDir] : ['--no-cache'];
    if (this.remote.limitUpload !== undefined) args.push('--limit-upload', String(Math.max(1, Math.floor(this.remote.limitUpload / 1024))));
    const options = { ...this.remote.options };
    if (this.remote.connections !== undefined) options[`${backendOf(this.remote.repository)}.connections`] = String(this.remote.connections);
    for (const [key, value] of Object.entries(options)) args.push('-o', `${key}=${value}`);
    return args;
  }

  /**
   * restic's own words for a failure, without secrets: its `Fatal:` message when there is one (restic writes
   * some lines without their newline, "error while unlocking: ...Fatal: ...", so it is looked for anywhere
   * in a line). When this side stopped restic (timeout, cancel), that is the cause, not the signal it died of.
   */
  private explain(err: unknown, what: string, timeout?: { ms: number; hint?: string | undefined }): RemoteError {
    const stderr = err instanceof ExecError ? err.stderr : describeError(err);
    const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
    const fatalLine = lines.find((l) => l.includes('Fatal:'));
    const fatal = fatalLine?.slice(fatalLine.indexOf('Fatal:') + 'Fatal:'.length).trim();
    let cause = fatal ?? lines.at(-1) ?? describeError(err);
    const stoppedHere = err instanceof ExecError ? /^\S+: (timed out after|cancelled)/.exec(err.message)?.[1] : undefined;
    if (stoppedHere === 'timed out after' && timeout) {
      cause = `timed out after ${Math.round(timeout.ms / 1000)} s and was stopped; the repository may have stopped answering (check its host and the network)${timeout.hint ? `, ${timeout.hint}` : ''}`;
    } else if (stoppedHere === 'cancelled') cause = 'cancelled (the agent is stopping or the job was removed)';
    else if (err instanceof ExecError && err.signal) cause = `killed by ${err.signal}${cause ? `: ${cause}` : ''}`;
    for (const secret of this.secrets) cause = cause.split(secret).join('[secret]');
    const where = this.repository;
    if (/wrong password or no key found/.test(stderr)) {
      return new RemoteError(`restic repository ${where}: wrong password (restic: wrong password or no key found); check remote.password, nothing was changed in the repository`, 'wrong_password');
    }
    if (/Is there a repository at the following location\?|unable to open config file|repository does not exist/.test(stderr)) {
      return new RemoteError(`no restic repository at ${where} (restic: ${cause}); create it with 'restic init' or set remote.init: true`, 'no_repository');
    }
    return new RemoteError(`restic ${what} on ${where} failed: ${cause}`, 'error');
  }

  /** `timeoutHint` ends the cause when the command timed out: what a person can change about it. */
  private async run(args: string[], what: string, signal: AbortSignal, timeoutMs = COMMAND_TIMEOUT_MS, timeoutHint?: string): Promise<string> {
    try {
      const result = await execFile(this.remote.binary, [...this.globalArgs(), ...args], {
        env: this.env(),
        signal,
        timeoutMs,
        maxOutputBytes: 1024 * 1024,
        startsChildren: true,
      });
      return result.stdout;
    } catch (err) {
      throw this.explain(err, what, { ms: timeoutMs, hint: timeoutHint });
    }
  }

  /**
   * Opens the repository; creates it only when `init` is set and restic says there is none. A wrong password
   * is never taken for a missing repository, so a repository is never initialised over an existing one.
   */
  async ensureRepository(signal: AbortSignal): Promise<void> {
    try {
      await this.run(['cat', 'config', '--no-lock'], 'cat config', signal, 10 * 60_000);
    } catch (err) {
      if (!(err instanceof RemoteError) || err.failure !== 'no_repository' || !this.remote.init) throw err;
      await this.run(['init'], 'init', signal, 10 * 60_000);
    }
  }

  /**
   * Removes locks a killed run of this host left (its process is gone); locks of other hosts, or of a
   * restic still running here, are left alone. Resolves with how many stale locks were found.
   */
  async unlockStale(signal: AbortSignal): Promise<number> {
    const ids = (await this.run(['list', 'locks', '--no-lock'], 'list locks', signal, 10 * 60_000)).split('\n').filter((l) => /^[0-9a-f]{64}$/.test(l.trim()));
    const here = hostname();
    let stale = 0;
    for (const id of ids) {
      let lock: LockInfo;
      try {
        lock = JSON.parse(await this.run(['cat', 'lock', id.trim(), '--no-lock'], 'cat lock', signal, 10 * 60_000)) as LockInfo;
      } catch {
        // Removed meanwhile by the run that held it.
        continue;
      }
      if (lock.hostname === here && !alive(lock.pid)) stale++;
    }
    // `restic unlock` removes only stale locks (a dead process on this host, or one not refreshed for 30 minutes).
    if (stale > 0) await this.run(['unlock'], 'unlock', signal, 10 * 60_000);
    return stale;
  }

  async backup(paths: string[], tags: string[], time: Date, signal: AbortSignal, timeoutMs: number): Promise<BackupSummary> {
    const args = ['backup', '--json', '--compression', this.remote.compression, '--time', resticTime(time), ...tags.flatMap((t) => ['--tag', t]), '--', ...paths];
    const out = await this.run(args, 'backup', signal, timeoutMs, "or raise the job's timeout if the upload needs longer (it gets what the dump left of it)");
    const summary = out
      .split('\n')
      .reverse()
      .map((line) => {
        try {
          return JSON.parse(line) as { message_type?: string; snapshot_id?: string; data_added?: number; total_duration?: number };
        } catch {
          return undefined;
        }
      })
      .find((m) => m?.message_type === 'summary');
    if (!summary?.snapshot_id) throw new RemoteError(`restic backup on ${this.repository} printed no summary with a snapshot id`, 'error');
    return { snapshotId: summary.snapshot_id, addedBytes: summary.data_added ?? 0, durationMs: Math.round((summary.total_duration ?? 0) * 1000) };
  }

  async snapshots(tag: string, signal: AbortSignal): Promise<Snapshot[]> {
    const out = await this.run(['snapshots', '--json', '--no-lock', '--tag', tag], 'snapshots', signal, 10 * 60_000);
    const list = JSON.parse(out || '[]') as Array<{ id: string; short_id: string; time: string; paths: string[]; tags?: string[]; hostname: string }>;
    return list
      .map((s) => ({ id: s.id, shortId: s.short_id, time: s.time, paths: s.paths, tags: s.tags ?? [], hostname: s.hostname }))
      .sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  }

  /**
   * restic forget over one job's snapshots, all in one group (each snapshot has its own paths, so restic's
   * default grouping by paths would keep every one), then prune. The newest snapshot is always kept.
   */
  async forget(tag: string, policy: RetentionPolicy, signal: AbortSignal): Promise<string[]> {
    const rules: Array<[keyof RetentionPolicy, string]> = [
      ['keepLast', '--keep-last'],
      ['keepHourly', '--keep-hourly'],
      ['keepDaily', '--keep-daily'],
      ['keepWeekly', '--keep-weekly'],
      ['keepMonthly', '--keep-monthly'],
      ['keepYearly', '--keep-yearly'],
    ];
    const args = ['forget', '--json', '--tag', tag, '--group-by', '', '--prune'];
    for (const [key, flag] of rules) if (policy[key] !== undefined) args.push(flag, String(policy[key]));
    if (policy.keepLast === undefined) args.push('--keep-last', '1');
    const out = await this.run(args, 'forget', signal);
    const groups = JSON.parse(out.split('\n').find((l) => l.startsWith('[')) ?? '[]') as Array<{ remove: Array<{ id: string }> | null }>;
    return groups.flatMap((g) => (g.remove ?? []).map((s) => s.id));
  }

  async check(readDataSubset: string, signal: AbortSignal): Promise<void> {
    await this.run(['check', `--read-data-subset=${readDataSubset}`], 'check', signal);
  }

  /** Writes one file of a snapshot to `target` (a new file): restic dump, streamed to disk by the child. */
  async dump(snapshot: string, path: string, target: string, signal: AbortSignal): Promise<void> {
    const handle = await open(target, 'wx', 0o600);
    try {
      const child = spawnToFile(this.remote.binary, [...this.globalArgs(), 'dump', snapshot, path], handle.fd, { env: this.env(), signal });
      await child.exited.catch((err: unknown) => {
        throw this.explain(err, 'dump');
      });
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Restores one directory of a snapshot under `target` (restic dump would make a tar of it). */
  async restoreDirectory(snapshot: string, path: string, target: string, signal: AbortSignal): Promise<void> {
    await this.run(['restore', snapshot, '--target', target, '--include', path], 'restore', signal);
  }
}
