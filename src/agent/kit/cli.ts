import { CaretakerError } from './errors.js';
import type { ProgressLine } from './progress.js';

/** Exit codes the CLI uses, from sysexits(3) where one fits, so scripts can branch on them. */
export const EXIT = {
  ok: 0,
  /** The command ran and found something wrong (a failed check, a down probe). */
  failure: 1,
  /** A command that reports on work in progress found none (`backups watch` with no run). */
  nothingRunning: 3,
  usage: 64,
  /** The daemon is not running or not reachable. */
  unavailable: 69,
  /** An invalid config, or the command's module has no section in it (EX_CONFIG: "unconfigured or misconfigured"). */
  config: 78,
} as const;

/** The `error` the admin API answers (and a module's CLI throws) for a module with no section in the config. */
export const NOT_CONFIGURED = 'not_configured';

/** Whether `err` says the module is not configured: every command exits `EXIT.config` for it. */
export function isNotConfigured(err: unknown): boolean {
  return (err instanceof ApiError && err.error === NOT_CONFIGURED) || (err instanceof CaretakerError && err.code === NOT_CONFIGURED);
}

/** An answer from the admin API other than 2xx, with its JSON `{error, message}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The daemon could not be reached at all. */
export class DaemonUnreachableError extends Error {
  readonly code = 'DAEMON_UNREACHABLE';
  constructor(address: string, options?: ErrorOptions) {
    super(`the caretaker daemon is not reachable at ${address}: is it running? (systemctl status caretaker)`, options);
    this.name = 'DaemonUnreachableError';
  }
}

export interface AdminClient {
  get<T = unknown>(path: string): Promise<T>;
  post<T = unknown>(path: string, body?: unknown): Promise<T>;
}

export interface CommandContext {
  /** Positional arguments after the command name. */
  args: string[];
  /** `--name value` and `--flag` options (after the command name), `--json` excluded. */
  flags: Record<string, string | true>;
  json: boolean;
  client: AdminClient;
  /** The module's own validated config section, for commands that work with the daemon stopped. */
  loadSection(): Promise<unknown>;
  /** The config file the command reads (`--config`, `$CARETAKER_CONFIG` or the default), for commands that edit it. */
  configPath: string;
  /** The module's state directory as the config file sets it (`<agent.stateDir>/<module>`), for commands that hand state to the daemon. */
  stateDir(): Promise<string>;
  out(text: string): void;
  err(text: string): void;
  /** Asks on a terminal; false without one (use --yes in scripts). */
  confirm(question: string): Promise<boolean>;
}

/** A `caretaker <name> ...` subcommand contributed by a module. */
export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  run(ctx: CommandContext): Promise<number>;
}

/** Plain aligned columns for human output. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `1536` → `1.5 KiB`, for human output. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/**
 * A progress line on stderr for long work (kit/progress.ts has its API), when stdout and stderr are both a
 * terminal and --json is off; undefined otherwise, and then the renderer is not even loaded.
 */
export async function startProgress(ctx: Pick<CommandContext, 'json'>, label: string): Promise<ProgressLine | undefined> {
  if (ctx.json || !process.stdout.isTTY || !process.stderr.isTTY) return undefined;
  const { ProgressLine } = await import('./progress.js');
  return new ProgressLine(process.stderr, label, formatBytes);
}
