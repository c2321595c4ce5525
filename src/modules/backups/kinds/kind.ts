import type { Logger } from 'pino';
import type { ByteSink } from '../sink.js';

/** Versions of the tools and the server a backup was made with, recorded in its manifest. */
export type ToolVersions = Record<string, string>;

export interface DumpContext {
  sink: ByteSink;
  signal: AbortSignal;
  log: Logger;
}

export interface RestoreOptions {
  /** Target URL; the job's own URL when absent. */
  to?: string;
  signal: AbortSignal;
  log: Logger;
}

/**
 * One kind of backup (postgres, redis, files). The rest of the module never branches on a job's type:
 * it asks the job's kind to dump, check and restore.
 */
export interface BackupKind<J> {
  /** File extension of a backup, without the dot. */
  readonly extension: string;
  /** Streams one backup into the sink; throws when the dump fails (UnsupportedError when the server cannot be backed up this way). */
  dump(job: J, ctx: DumpContext): Promise<ToolVersions>;
  /** The kind's own integrity check of a finished file (pg_restore --list, redis-check-rdb…); resolves with what was run. */
  check(job: J, file: string, signal: AbortSignal): Promise<string>;
  restore(job: J, file: string, options: RestoreOptions): Promise<void>;
  /** Where a restore would write, with any password removed, for the confirmation question. */
  describeTarget(job: J, to: string | undefined): string;
}

/** The server refuses the commands a backup needs (managed Redis, renamed commands): a state, not a bug. */
export class UnsupportedError extends Error {
  readonly code = 'BACKUP_UNSUPPORTED';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnsupportedError';
  }
}

/** A URL with its password masked, for logs and questions. */
export function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparsable URL)';
  }
}
