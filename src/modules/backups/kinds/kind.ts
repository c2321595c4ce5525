import type { Logger } from 'pino';
import type { BackupContents } from '../drill/contents.js';
import type { KindDrill } from '../drill/drill.js';
import type { ByteSink } from '../sink.js';

/** Versions of the tools and the server a backup was made with, recorded in its manifest. */
export type ToolVersions = Record<string, string>;

/** Writes one dump into a sink; resolves with the versions of the tools used. */
export type ByteSinkProducer = (sink: ByteSink) => Promise<ToolVersions>;

export interface DumpContext {
  sink: ByteSink;
  signal: AbortSignal;
  log: Logger;
  /** For a job with a restore drill: what the dump holds, for the manifest (row counts, a key sample). */
  recordContents?(contents: BackupContents): void;
  /** How the dump was made, for the manifest's `mode` and `keys` (a Redis job in mode auto says which mode it used). */
  recordSummary?(summary: DumpSummary): void;
}

export interface DumpSummary {
  mode?: string;
  keys?: number;
}

/** What a run writes: one file streamed through a sink, or a directory the tool fills itself (pg_dump -Fd). */
export interface OutputFormat {
  extension: string;
  layout: 'file' | 'directory';
}

export interface DirectoryDumpContext {
  /** Does not exist yet; the tool creates it (it becomes the backup's `.partial` directory). */
  path: string;
  signal: AbortSignal;
  log: Logger;
  /** For a job with a restore drill: what the dump holds, for the manifest (row counts, a key sample). */
  recordContents?(contents: BackupContents): void;
}

/** Facts a companion's dump records in the manifest beside its file, read back by its restore. */
export type CompanionDetails = Record<string, string | number | boolean>;

export interface CompanionDumpContext extends DumpContext {
  recordDetails(details: CompanionDetails): void;
}

/**
 * A second file made in the same run beside the main backup, as `<backup>.<suffix>` (pg_dumpall --globals-only
 * beside a pg_dump). It is streamed, fsynced, checked and renamed like the backup; its size and sha256 are in
 * the backup's manifest; a restore applies it before the backup.
 */
export interface Companion<J> {
  /** e.g. `globals.sql`. */
  readonly suffix: string;
  dump(job: J, ctx: CompanionDumpContext): Promise<ToolVersions>;
  check(job: J, file: string, signal: AbortSignal): Promise<string>;
  /** Resolves with what the one restoring must still do by hand, if anything (`details`: what its dump recorded). */
  restore(job: J, file: string, options: RestoreOptions, details: CompanionDetails | undefined): Promise<string | undefined>;
}

export interface RestoreOptions {
  /** Target URL; the job's own URL when absent. */
  to?: string;
  signal: AbortSignal;
  log: Logger;
  /** Into a drill's scratch target: the data only, without ownership and grants that name the source's roles. */
  scratch?: boolean;
}

/**
 * One kind of backup (postgres, redis, files). The rest of the module never branches on a job's type:
 * it asks the job's kind to dump, check and restore.
 */
export interface BackupKind<J> {
  /** Extensions (without the dot) of every format this kind writes; all are listed, whatever the job's current options. */
  readonly extensions: readonly string[];
  /** The format a new run of this job writes (a Redis job in mode auto asks the server first). */
  formatFor(job: J): OutputFormat | Promise<OutputFormat>;
  /** Streams one backup into the sink; throws when the dump fails (UnsupportedError when the server cannot be backed up this way). */
  dump(job: J, ctx: DumpContext): Promise<ToolVersions>;
  /** For jobs whose format is a directory: the tool writes the backup there itself. */
  dumpToDirectory?(job: J, ctx: DirectoryDumpContext): Promise<ToolVersions>;
  /**
   * Loads what the kind's runs need (a client library) when a job of this kind is configured, so the one-time
   * module loading (tens to hundreds of ms of blocked event loop) happens at start, not in the middle of a backup.
   */
  warmUp?(): Promise<void>;
  /** Extra files this job's runs make beside the backup (per its options). */
  companionsFor?(job: J): Companion<J>[];
  /** Every companion this kind knows, so a backup's recorded companions are checked and restored whatever the job's options are now. */
  readonly companions?: readonly Companion<J>[];
  /** The kind's own integrity check of a finished file (pg_restore --list, redis-check-rdb…); resolves with what was run. */
  check(job: J, file: string, signal: AbortSignal): Promise<string>;
  /** Resolves with a line for the user where the kind has something to say (how many keys went which way). */
  restore(job: J, file: string, options: RestoreOptions): Promise<string | void>;
  /** Where a restore would write, with any password removed, for the confirmation question. */
  describeTarget(job: J, to: string | undefined): string;
  /** The restore drill of a job with a `drill` key: restore into a scratch target and compare with the manifest's contents. */
  readonly drill?: KindDrill<J>;
}

/** The server refuses the commands a backup needs (managed Redis, renamed commands): a state, not a bug. */
export class UnsupportedError extends Error {
  readonly code = 'BACKUP_UNSUPPORTED';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnsupportedError';
  }
}
