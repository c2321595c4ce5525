import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { fsyncDir } from '../../agent/kit/atomic-file.js';
import type { ConditionReporter } from '../../agent/kit/conditions.js';
import { describeError } from '../../agent/kit/errors.js';
import type { rotationOutcome, setStatus } from './answers.js';
import { isCalendarDue } from './calendar.js';
import type { LogSetConfig } from './config.js';
import { copyThenTruncate } from './copy-truncate.js';
import { gzipFile } from './compress.js';
import { discover, unsafeDirectoryReason, type Discovery, type LiveFile } from './discover.js';
import type { LogsMetrics } from './metrics.js';
import { compressedName, isCompressionTemp, nextDateName, numberedShiftPlan, parseRotated, type RotatedFile } from './naming.js';
import { resolveId } from './owners.js';
import { selectForCompression, selectForPruning } from './prune.js';
import { askWriterToReopen, waitUntilReleased, type HeldCheck } from './reopen.js';
import type { StateStore } from './state.js';

export interface SetDeps {
  /** Names the set. */
  log: Logger;
  metrics: LogsMetrics;
  /** Where a failed rotation is reported (`logs:<set>:rotation`) and its end. */
  conditions: ConditionReporter;
  store: StateStore;
  /** Which rotated files a writer may still be appending to (compression waits for those). */
  held: HeldCheck;
  now: () => Date;
  /** Aborted when the set is removed or the module stops. */
  signal: AbortSignal;
  /** At module start: the first check removes the temp files a killed compression left (nothing can be compressing yet). */
  removeLeftovers?: boolean;
}

export type RotationOutcome = z.infer<typeof rotationOutcome>;

export type SetStatus = z.infer<typeof setStatus>;

type FileStatus = SetStatus['files'][number];

interface RotatedOnDisk extends RotatedFile {
  path: string;
  mtimeMs: number;
}

/** One configured log set: decides when its files are due, rotates them, compresses and prunes. */
export class LogSet {
  private lastCheckMs: number | undefined;
  private lastRotationMs: number | undefined;
  private lastResult: RotationOutcome['result'] | null = null;
  private checkProblems: string[] = [];
  private rotationProblems: string[] = [];
  private files: FileStatus[] = [];
  private leftoversRemoved = false;
  private readonly log: Logger;

  constructor(
    readonly config: LogSetConfig,
    private readonly deps: SetDeps,
  ) {
    this.log = deps.log;
  }

  problems(): string[] {
    return [...this.checkProblems, ...this.rotationProblems];
  }

  status(busy: boolean): SetStatus {
    return {
      name: this.config.name,
      busy,
      mode: this.config.copyTruncate ? 'copyTruncate' : this.config.reopen ? 'reopen' : 'create',
      lastCheck: this.lastCheckMs === undefined ? null : new Date(this.lastCheckMs).toISOString(),
      lastRotation: this.lastRotationMs === undefined ? null : new Date(this.lastRotationMs).toISOString(),
      lastResult: this.lastResult,
      problems: this.problems(),
      files: this.files,
    };
  }

  /**
   * One check: rotates what is due (every live file when `force`), compresses, prunes. An abort ends it
   * with a throw; the partial .gz is already gone (compress.ts).
   */
  async check(force: boolean): Promise<RotationOutcome> {
    const now = this.deps.now();
    const nowMs = now.getTime();
    const outcome: RotationOutcome = { log: this.config.name, result: 'nothing', rotated: [], errors: [] };
    let found: Discovery;
    try {
      found = await discover(this.config.paths);
    } catch (err) {
      this.setCheckProblems([`cannot list ${this.config.paths.join(', ')}: ${describeError(err)}`]);
      outcome.errors.push(...this.checkProblems);
      return outcome;
    }
    const problems = found.refused.map((r) => r.reason);
    if (!this.config.missingOk) problems.push(...found.unmatched.map((p) => `no file matches ${p}`));
    this.deps.metrics.liveBytes.set({ log: this.config.name }, found.files.reduce((sum, f) => sum + f.size, 0));
    if (this.deps.removeLeftovers && !this.leftoversRemoved) {
      this.leftoversRemoved = true;
      await this.removeCompressionLeftovers(found.files).catch((err) => problems.push(`cannot remove leftover temp files: ${describeError(err)}`));
    }

    const due: LiveFile[] = [];
    let baselined = false;
    for (const file of found.files) {
      let last = this.deps.store.lastRotation(file.path);
      if (last === undefined) {
        const baseline = await this.baseline(file, nowMs);
        last = baseline.atMs;
        this.deps.store.record(file.path, last, baseline.firstSight);
        baselined = true;
      }
      if (this.isDue(file, last, nowMs, force)) due.push(file);
    }
    if (baselined) await this.deps.store.save().catch((err) => problems.push(`cannot save state: ${describeError(err)}`));
    if (this.lastRotationMs === undefined) this.restoreLastRotation(found.files);

    if (due.length > 0) {
      await this.rotate(due, now, outcome);
      this.recordOutcome(outcome, nowMs);
    }
    try {
      await this.maintain(found.files, nowMs);
    } catch (err) {
      if (this.deps.signal.aborted) throw err;
      problems.push(`compress/prune: ${describeError(err)}`);
    }
    this.lastCheckMs = nowMs;
    this.setCheckProblems(problems);
    return outcome;
  }

  private isDue(file: LiveFile, lastMs: number, nowMs: number, force: boolean): boolean {
    const { rotate, notIfEmpty } = this.config;
    if (file.size === 0 && notIfEmpty) return false;
    if (force) return true;
    if (rotate.maxSize !== undefined && file.size >= rotate.maxSize) return true;
    if (rotate.every === undefined) return false;
    return isCalendarDue(lastMs, nowMs, rotate.every, rotate.timezone) && file.size >= (rotate.minSize ?? 0);
  }

  /**
   * When a file has no state (first sight, or the state file was lost): the newest rotation found
   * on disk, so a missed calendar rotation still happens; otherwise now, as logrotate does.
   */
  private async baseline(file: LiveFile, nowMs: number): Promise<{ atMs: number; firstSight: boolean }> {
    const rotated = await this.listRotated(file).catch(() => [] as RotatedOnDisk[]);
    const times = rotated.map((r) => r.stampMs ?? r.mtimeMs);
    return times.length > 0 ? { atMs: Math.max(...times), firstSight: false } : { atMs: nowMs, firstSight: true };
  }

  /** The first check after a restart takes the set's last rotation from the kept state, not only from this process's rotations. */
  private restoreLastRotation(files: LiveFile[]): void {
    const times = files.map((f) => this.deps.store.rotatedAt(f.path)).filter((t): t is number => t !== undefined);
    if (times.length === 0) return;
    this.lastRotationMs = Math.max(...times);
    this.deps.metrics.lastRotation.set({ log: this.config.name }, this.lastRotationMs / 1000);
  }

  private async targetDir(liveDir: string): Promise<string> {
    const olddir = this.config.olddir;
    if (olddir === undefined) return liveDir;
    const dir = isAbsolute(olddir) ? olddir : join(liveDir, olddir);
    await mkdir(dir, { mode: 0o750 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    const dirInfo = await lstat(dir);
    if (dirInfo.isSymbolicLink()) throw new Error(`olddir ${dir} is a symlink; symlinks are never followed`);
    const unsafe = await unsafeDirectoryReason(dir);
    if (unsafe) throw new Error(unsafe);
    return dir;
  }

  private async rotate(files: LiveFile[], now: Date, outcome: RotationOutcome): Promise<void> {
    const signal = this.deps.signal;
    for (const file of files) {
      signal.throwIfAborted();
      try {
        const to = await this.moveAside(file, now);
        outcome.rotated.push({ path: file.path, to, bytes: file.size });
      } catch (err) {
        if (signal.aborted) throw err;
        outcome.errors.push(`${file.path}: ${describeError(err)}`);
      }
    }
    if (outcome.rotated.length === 0) return;
    const nowMs = now.getTime();
    for (const { path } of outcome.rotated) this.deps.store.record(path, nowMs);
    try {
      await this.deps.store.save();
    } catch (err) {
      outcome.errors.push(`cannot save state: ${describeError(err)}`);
    }
    const reopen = this.config.reopen;
    if (reopen === undefined) return;
    try {
      await askWriterToReopen(reopen, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      outcome.errors.push(`reopen: ${describeError(err)}`);
      return;
    }
    const released = await waitUntilReleased(outcome.rotated.map((r) => r.to), this.deps.held, reopen.timeout, signal);
    if (!released) outcome.errors.push(`the writer still holds the rotated file(s) ${reopen.timeout} ms after reopen; compression waits`);
  }

  /** Moves one live file aside under its rotated name and leaves a fresh live file; returns the rotated path. */
  private async moveAside(file: LiveFile, now: Date): Promise<string> {
    const liveDir = dirname(file.path);
    const base = basename(file.path);
    const targetDir = await this.targetDir(liveDir);
    // The file must still be the one discovered: a symlink swapped in meanwhile is never followed.
    const info = await lstat(file.path);
    if (!info.isFile() || info.ino !== file.ino) throw new Error('the file changed during rotation; retrying at the next check');
    const names = new Set(await readdir(targetDir));
    let name: string;
    if (this.config.naming === 'dateext') {
      name = nextDateName(base, now, names);
    } else {
      const existing = [...names].map((n) => parseRotated(base, n, 'numbered')).filter((r): r is RotatedFile => r !== undefined);
      for (const step of numberedShiftPlan(base, existing)) await rename(join(targetDir, step.from), join(targetDir, step.to));
      name = `${base}.1`;
    }
    const target = join(targetDir, name);
    if (this.config.copyTruncate) {
      await copyThenTruncate(file.path, target, this.deps.signal);
    } else {
      await rename(file.path, target);
      await this.createLive(file);
    }
    await fsyncDir(liveDir);
    if (targetDir !== liveDir) await fsyncDir(targetDir);
    return target;
  }

  private async createLive(file: LiveFile): Promise<void> {
    const create = this.config.create;
    const uid = create?.owner === undefined ? file.uid : await resolveId(create.owner, 'user');
    const gid = create?.group === undefined ? file.gid : await resolveId(create.group, 'group');
    const mode = create?.mode ?? file.mode;
    let handle;
    try {
      handle = await open(file.path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    } catch (err) {
      // A writer that opens per line may have created it already; that file is theirs to keep.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw err;
    }
    try {
      await handle.chown(uid, gid);
      await handle.chmod(mode);
    } finally {
      await handle.close();
    }
  }

  private async listRotated(file: LiveFile): Promise<RotatedOnDisk[]> {
    const dir = await this.targetDir(dirname(file.path));
    const base = basename(file.path);
    const found: RotatedOnDisk[] = [];
    for (const name of await readdir(dir)) {
      const parsed = parseRotated(base, name, this.config.naming);
      if (!parsed) continue;
      const path = join(dir, name);
      const info = await lstat(path).catch(() => undefined);
      // Only regular files are ours: a symlink or directory with a rotated-looking name is left alone.
      if (info?.isFile()) found.push({ ...parsed, path, mtimeMs: info.mtimeMs });
    }
    return found;
  }

  /** Temp files of compressions a kill -9 interrupted: only our own naming, only next to this set's rotations. */
  private async removeCompressionLeftovers(files: LiveFile[]): Promise<void> {
    for (const file of files) {
      const dir = await this.targetDir(dirname(file.path));
      const base = basename(file.path);
      for (const name of await readdir(dir)) {
        if (!isCompressionTemp(base, name, this.config.naming)) continue;
        const path = join(dir, name);
        // A symlink or directory with that name is not something compress.ts made.
        if (!(await lstat(path).catch(() => undefined))?.isFile()) continue;
        await unlink(path);
        this.log.info({ file: path }, 'leftover compression temp file removed');
      }
    }
  }

  /** Every check: prune by keep/maxAge, then compress what is due (never a file a process still holds open). */
  private async maintain(files: LiveFile[], nowMs: number): Promise<void> {
    const statuses: FileStatus[] = [];
    for (const file of files) {
      this.deps.signal.throwIfAborted();
      let rotated = await this.listRotated(file);
      rotated = await this.dropCompressedTwins(rotated);
      const doomed = selectForPruning({
        files: rotated,
        keep: this.config.keep,
        maxAgeMs: this.config.maxAge,
        nowMs,
        mtimeMs: (r) => (r as RotatedOnDisk).mtimeMs,
      }) as RotatedOnDisk[];
      for (const old of doomed) {
        await unlink(old.path);
        this.log.info({ file: old.path }, 'rotated file pruned');
      }
      rotated = rotated.filter((r) => !doomed.includes(r));
      let pending = 0;
      if (this.config.compress) {
        const candidates = selectForCompression(rotated, this.config.delayCompress) as RotatedOnDisk[];
        const held = await this.deps.held(new Set(candidates.map((c) => c.path)));
        for (const candidate of candidates) {
          if (held.has(candidate.path)) {
            pending++;
            continue;
          }
          await this.compress(candidate.path);
        }
      }
      const lastRotation = this.deps.store.rotatedAt(file.path);
      statuses.push({
        path: file.path,
        size: file.size,
        lastRotation: lastRotation === undefined ? null : new Date(lastRotation).toISOString(),
        rotatedFiles: rotated.length,
        pendingCompression: pending,
      });
    }
    this.files = statuses;
  }

  /** After a crash between writing `x.gz` and removing `x`, the complete `x.gz` wins. */
  private async dropCompressedTwins(rotated: RotatedOnDisk[]): Promise<RotatedOnDisk[]> {
    const names = new Set(rotated.map((r) => r.name));
    const kept: RotatedOnDisk[] = [];
    for (const file of rotated) {
      if (!file.compressed && names.has(compressedName(file.name))) await unlink(file.path);
      else kept.push(file);
    }
    return kept;
  }

  private async compress(path: string): Promise<void> {
    const started = performance.now();
    const { inBytes, outBytes } = await gzipFile(path, compressedName(path), { level: this.config.compress!.level, signal: this.deps.signal });
    if (inBytes > 0) this.deps.metrics.compressionRatio.set({ log: this.config.name }, outBytes / inBytes);
    this.log.info({ file: path, inBytes, outBytes, ms: Math.round(performance.now() - started) }, 'rotated file compressed');
  }

  private recordOutcome(outcome: RotationOutcome, nowMs: number): void {
    const name = this.config.name;
    outcome.result = outcome.errors.length === 0 ? 'success' : 'failure';
    this.lastResult = outcome.result;
    this.deps.metrics.rotations.inc({ log: name, result: outcome.result });
    const bytes = outcome.rotated.reduce((sum, r) => sum + r.bytes, 0);
    this.deps.metrics.rotatedBytes.inc({ log: name }, bytes);
    if (outcome.rotated.length > 0) {
      this.lastRotationMs = nowMs;
      if (outcome.result === 'success') this.deps.metrics.lastRotation.set({ log: name }, nowMs / 1000);
    }
    const hadProblems = this.rotationProblems.length > 0;
    this.rotationProblems = outcome.errors;
    const key = `logs:${name}:rotation`;
    if (outcome.result === 'success') this.deps.conditions.resolve(key);
    else this.deps.conditions.fire({ key, severity: 'warning', summary: `rotation of ${name} failed`, detail: outcome.errors.join('; '), item: name });
    if (outcome.result === 'success') {
      this.log.info({ files: outcome.rotated.length, bytes }, hadProblems ? 'log rotated; recovered' : 'log rotated');
    } else if (!hadProblems) {
      this.log.error({ errors: outcome.errors, files: outcome.rotated.length }, 'log rotation failed');
    }
  }

  private setCheckProblems(problems: string[]): void {
    if (problems.length > 0 && this.checkProblems.join('\n') !== problems.join('\n')) this.log.error({ problems }, 'log set has problems');
    else if (problems.length === 0 && this.checkProblems.length > 0) this.log.info('log set problems cleared');
    this.checkProblems = problems;
  }
}
