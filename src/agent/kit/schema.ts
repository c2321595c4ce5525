import { accessSync, constants, statSync } from 'node:fs';
import { z } from 'zod';

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024, kib: 1024, kb: 1000,
  m: 1024 ** 2, mib: 1024 ** 2, mb: 1000 ** 2,
  g: 1024 ** 3, gib: 1024 ** 3, gb: 1000 ** 3,
  t: 1024 ** 4, tib: 1024 ** 4, tb: 1000 ** 4,
};

/** `90s`, `5m`, `1h30m`, `30d` → milliseconds. Returns undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) {
    total += Number(amount) * DURATION_UNITS_MS[unit!]!;
  }
  return Math.round(total);
}

/** `100MiB`, `1.5GB`, `512k`, `42` (bytes) → bytes. K/M/G without `i` mean powers of 1024, as logrotate reads them. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  if (!match) return undefined;
  const unit = (match[2] ?? '').toLowerCase() || 'b';
  const factor = SIZE_UNITS[unit];
  return factor === undefined ? undefined : Math.round(Number(match[1]) * factor);
}

/** The longest delay setTimeout/setInterval keep (2^31-1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A duration string validated at load and carried as milliseconds. Without `max` it is bounded by
 * Node's timer limit, since most durations end up in a timer; a duration that never does (an age
 * compared with a file's mtime) says so with `timer: false`.
 */
export function duration(opts: { min?: string; max?: string; timer?: false } = {}) {
  const min = opts.min === undefined ? undefined : parseDuration(opts.min);
  const max = opts.max === undefined ? undefined : parseDuration(opts.max);
  return z
    .string({ error: 'expected a duration such as 30s, 5m, 12h or 30d' })
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `'${text}' is not a duration (use a number with ms, s, m, h, d or w, e.g. 30s)` });
        return z.NEVER;
      }
      if (min !== undefined && ms < min) {
        ctx.addIssue({ code: 'custom', message: `'${text}' is shorter than the minimum ${opts.min}` });
        return z.NEVER;
      }
      if (max !== undefined && ms > max) {
        ctx.addIssue({ code: 'custom', message: `'${text}' is longer than the maximum ${opts.max}` });
        return z.NEVER;
      }
      if (opts.timer !== false && ms > MAX_TIMER_MS) {
        ctx.addIssue({ code: 'custom', message: `'${text}' is longer than Node.js can time (at most 2^31-1 ms, about 24.8 days)` });
        return z.NEVER;
      }
      if (!Number.isSafeInteger(ms)) {
        ctx.addIssue({ code: 'custom', message: `'${text}' is too long to be a duration` });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ description: 'duration: a number followed by ms, s, m, h, d or w (e.g. 30s, 12h)' });
}

/**
 * An absolute path to a file that must be there when the config is loaded: a typo is a config error
 * naming the key, not a failure at the first renewal or backup. Checked with stat/access only (no
 * reads, no network), by the user running the check: the service user for the daemon and reload.
 */
export function existingPath(opts: { kind: 'file' | 'directory'; executable?: boolean }) {
  const what = opts.kind === 'directory' ? 'a directory' : opts.executable ? 'an executable file' : 'a file';
  return z.string({ error: `expected an absolute path to ${what}` }).superRefine((path, ctx) => {
    const problem = path.startsWith('/') ? pathProblem(path, opts) : `must be an absolute path to ${what}`;
    if (problem) ctx.addIssue({ code: 'custom', message: problem.startsWith('must') ? problem : `${path}: ${problem}` });
  });
}

/** The files libpq (and node-postgres) read from a postgres:// URL's query when connecting; each must be there at load. */
export function libpqFileProblems(url: string): string[] {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    return [];
  }
  const problems: string[] = [];
  for (const name of ['sslrootcert', 'sslcert', 'sslkey', 'sslcrl']) {
    const path = params.get(name);
    // sslrootcert=system is libpq's name for the system's CA store.
    if (path === null || (name === 'sslrootcert' && path === 'system')) continue;
    const problem = pathProblem(path, { kind: 'file' });
    if (problem) problems.push(`${name}=${path}: ${problem}`);
  }
  return problems;
}

/** Why `path` is not usable as asked, or undefined when it is. */
export function pathProblem(path: string, opts: { kind: 'file' | 'directory'; executable?: boolean }): string | undefined {
  let info;
  try {
    info = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be read (${code ?? String(err)})`;
  }
  if (opts.kind === 'directory' ? !info.isDirectory() : !info.isFile()) return `is not ${opts.kind === 'directory' ? 'a directory' : 'a regular file'}`;
  const mode = opts.kind === 'directory' ? constants.R_OK | constants.X_OK : opts.executable ? constants.X_OK : constants.R_OK;
  try {
    accessSync(path, mode);
  } catch {
    return opts.executable ? 'is not executable by this user (chmod +x, or check its directory)' : 'is not readable by this user (check its mode and owner)';
  }
  return undefined;
}

/** A size string validated at load and carried as bytes. */
export function size() {
  return z
    .string({ error: 'expected a size such as 512KiB, 100MiB or 1GiB' })
    .transform((text, ctx) => {
      const bytes = parseSize(text);
      if (bytes === undefined) {
        ctx.addIssue({ code: 'custom', message: `'${text}' is not a size (use a number with B, KiB, MiB, GiB, KB, MB or GB, e.g. 100MiB)` });
        return z.NEVER;
      }
      return bytes;
    })
    .meta({ description: 'size: a number followed by B, KiB, MiB, GiB, TiB (or KB, MB, GB), e.g. 100MiB' });
}

/**
 * An http:// or https:// URL. The message never repeats the value: a webhook or ping URL carries its
 * token in the path, and a load error would otherwise print it.
 */
export function httpUrl(error: string) {
  return z.string({ error }).refine(
    (text) => {
      try {
        return ['http:', 'https:'].includes(new URL(text).protocol);
      } catch {
        return false;
      }
    },
    { error },
  );
}

/** The handle of a configured item: used in file names, metric labels and URLs, so kept plain. */
export function itemName() {
  return z
    .string({ error: 'expected a name' })
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
      error: 'must be 1-63 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
    });
}

/** A list of items with a unique `name`; a duplicate is reported at its own `name` key. */
export function namedList<T extends z.ZodType<{ name: string }>>(item: T) {
  return z.array(item).superRefine((items, ctx) => {
    const firstIndex = new Map<string, number>();
    items.forEach((entry, index) => {
      const seen = firstIndex.get(entry.name);
      if (seen === undefined) {
        firstIndex.set(entry.name, index);
      } else {
        ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate name '${entry.name}' (already used at index ${seen})` });
      }
    });
  });
}

/** `host:port` with an IPv4/IPv6/hostname host, or a unix socket as `unix:/path` or `/path`. */
export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseListen(text: string): ListenAddress | undefined {
  if (text.startsWith('unix:')) return text.length > 5 ? { kind: 'unix', path: text.slice(5) } : undefined;
  if (text.startsWith('/')) return { kind: 'unix', path: text };
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { kind: 'tcp', host: match[1] ?? match[2]!, port };
}

export function listenAddress() {
  return z
    .string({ error: 'expected host:port or unix:/path' })
    .transform((text, ctx) => {
      const parsed = parseListen(text);
      if (!parsed) {
        ctx.addIssue({ code: 'custom', message: `'${text}' is not host:port (e.g. 127.0.0.1:9470) or unix:/path/to.sock` });
        return z.NEVER;
      }
      return parsed;
    });
}

export function isLoopback(address: ListenAddress): boolean {
  if (address.kind === 'unix') return true;
  return address.host === 'localhost' || address.host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(address.host);
}

export function formatListen(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
