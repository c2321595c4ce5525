import type { Logger } from 'pino';
import type { Manifest } from '../manifest.js';

export interface DrillContext {
  /** The module's state directory: a throw-away server's socket lives there, not in the backup tree. */
  stateDir: string;
  signal: AbortSignal;
  log: Logger;
  /** Restores the drilled backup into `to` with the kind's own restore, data only (no owners, no grants). */
  restore(to: string): Promise<void>;
}

/** The drilled backup: verified again just before, with its manifest. */
export interface DrilledBackup {
  path: string;
  file: string;
  manifest: Manifest;
}

/**
 * A kind's restore drill: restores the backup into a scratch target, compares it with the contents its
 * manifest records, removes the target. Resolves with what was checked; throws DrillFailure saying why
 * the copy is wrong.
 */
export interface KindDrill<J> {
  /** Why the drill cannot run on this host (a missing binary), checked before anything is read; undefined when it can. */
  unavailable?(): string | undefined;
  run(job: J, backup: DrilledBackup, ctx: DrillContext): Promise<string>;
}

export class DrillFailure extends Error {
  readonly code = 'DRILL_FAILED';
}

/** A backup made before the job had a drill has nothing to compare the restored copy with. */
export function noContents(backup: DrilledBackup, what: string): DrillFailure {
  return new DrillFailure(`${backup.file} has no ${what} in its manifest (it was made before the job had a drill); the next backup records them`);
}

/** The first problems found, in one line. */
export function listProblems(problems: string[]): string {
  const shown = problems.slice(0, 5).join('; ');
  return problems.length > 5 ? `${shown}; and ${problems.length - 5} more` : shown;
}
