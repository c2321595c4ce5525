import { fstatSync } from 'node:fs';
import pino, { type DestinationStream } from 'pino';

/** sd-daemon(3) priorities for pino's levels, so `journalctl -p err` finds the agent's errors. */
const JOURNAL_PRIORITY: Record<string, number> = { fatal: 2, error: 3, warn: 4, info: 6, debug: 7, trace: 7 };

/**
 * True when file descriptor `fd` is the stream systemd connected to the journal: systemd sets
 * JOURNAL_STREAM to its `device:inode`, which a redirect in between (`caretaker run | tee`) changes.
 */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const expected = env.JOURNAL_STREAM;
  if (!expected) return false;
  try {
    const { dev, ino } = fstatSync(fd);
    return expected === `${dev}:${ino}`;
  } catch {
    return false;
  }
}

export type LogFormat = 'json' | 'journal' | 'human';

/** JSON lines by default; with `<N>` priority prefixes on the journal; readable lines on a terminal. */
export function logFormatFor(fd: number, isTTY: boolean, env: NodeJS.ProcessEnv = process.env): LogFormat {
  if (isJournalStream(fd, env)) return 'journal';
  return isTTY ? 'human' : 'json';
}

/** The prefix journald reads a line's priority from (SyslogLevelPrefix=, on by default). */
export function journalPrefix(level: string): string {
  return `<${JOURNAL_PRIORITY[level] ?? 6}>`;
}

/** pino writes `{"level":"info",…`: the level is the first key (see the level formatter in logger.ts). */
function levelOf(line: string): string {
  const start = line.indexOf('"level":"');
  if (start === -1) return 'info';
  const from = start + '"level":"'.length;
  return line.slice(from, line.indexOf('"', from));
}

const HIDDEN_IN_HUMAN = new Set(['level', 'time', 'pid', 'msg']);

/** One line for people: `12:00:01.234 INFO  probes: probe down probe=redis reason=refused`. */
export function humanLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof record.time === 'string' ? record.time.slice(11, 23) : '';
  const level = String(record.level ?? 'info').toUpperCase().padEnd(5);
  const module = typeof record.module === 'string' ? `${record.module}: ` : '';
  const fields = Object.entries(record)
    .filter(([key]) => !HIDDEN_IN_HUMAN.has(key) && key !== 'module')
    .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`);
  return `${time} ${level} ${module}${String(record.msg ?? '')}${fields.length ? ` ${fields.join(' ')}` : ''}\n`;
}

/** stdout for the daemon's log, in the format its reader wants. */
export function logDestination(format: LogFormat = logFormatFor(1, process.stdout.isTTY === true)): DestinationStream {
  const out = pino.destination({ dest: 1, sync: format === 'human' });
  if (format === 'json') return out;
  const transform = format === 'journal' ? (line: string) => journalPrefix(levelOf(line)) + line : humanLine;
  return {
    write: (line: string) => out.write(transform(line)),
    // logger.flush(cb), used before process.exit, reaches sonic-boom through this.
    flush: (cb?: (err?: Error) => void) => out.flush(cb),
  } as DestinationStream;
}
