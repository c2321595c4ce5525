import { Buffer } from 'node:buffer';
import type net from 'node:net';
import { redisAddress, type RedisTarget } from '../../../../agent/kit/redis.js';
import { rawConnect, rawConnectUnix } from '../connection.js';
import { SocketReader } from '../socket-reader.js';

const REPLY_TIMEOUT_MS = 60_000;

export type RawArg = Buffer | string | number;
/** A RESP2 reply: a status or bulk string as bytes, an integer, nil, an error reply, or an array of replies. */
export type RawReply = Buffer | number | null | Error | RawReply[];

function digitsOf(n: number): number {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits;
}

/** The `digits` digits of n at `at`. */
function writeDigits(out: Buffer, at: number, n: number, digits: number): void {
  let rest = n;
  for (let i = digits - 1; i >= 0; i--) {
    out[at + i] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
}

/** `<mark><n>\r\n` at `at`; returns where it ends. */
function writeHeader(out: Buffer, at: number, mark: number, n: number): number {
  out[at] = mark;
  const digits = digitsOf(n);
  writeDigits(out, at + 1, n, digits);
  out[at + digits + 1] = 0x0d;
  out[at + digits + 2] = 0x0a;
  return at + digits + 3;
}

/** A number written as its digits (RESTORE's TTL, SCAN's COUNT): a non-negative integer, as every one we send is. */
function isDigits(arg: RawArg): arg is number {
  return typeof arg === 'number' && Number.isSafeInteger(arg) && arg >= 0;
}

/** A short ASCII string (a command name, a cursor) is written char by char; any other is encoded once. */
function asciiLength(text: string): number | undefined {
  if (text.length > 64) return undefined;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return undefined;
  return text.length;
}

/**
 * Every command as RESP, into one buffer sized first and written byte by byte: a few small Buffers per
 * argument, joined afterwards, were most of a restore's garbage, and Buffer#write's per-call cost most of the
 * rest. Strings are UTF-8; Buffers are copied as they are.
 */
export function encodeCommands(commands: RawArg[][]): Buffer {
  const encoded = new Map<RawArg, Buffer>();
  const lengthOf = (arg: RawArg): number => {
    if (Buffer.isBuffer(arg)) return arg.length;
    if (isDigits(arg)) return digitsOf(arg);
    const ascii = asciiLength(String(arg));
    if (ascii !== undefined) return ascii;
    let bytes = encoded.get(arg);
    if (!bytes) encoded.set(arg, (bytes = Buffer.from(String(arg))));
    return bytes.length;
  };
  let size = 0;
  for (const args of commands) {
    size += 3 + digitsOf(args.length);
    for (const arg of args) {
      const n = lengthOf(arg);
      size += 3 + digitsOf(n) + n + 2;
    }
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const args of commands) {
    at = writeHeader(out, at, 0x2a, args.length);
    for (const arg of args) {
      const n = lengthOf(arg);
      at = writeHeader(out, at, 0x24, n);
      const bytes = Buffer.isBuffer(arg) ? arg : encoded.get(arg);
      if (bytes) out.set(bytes, at);
      else if (isDigits(arg)) writeDigits(out, at, arg, n);
      else for (let i = 0, text = String(arg); i < n; i++) out[at + i] = text.charCodeAt(i);
      at += n;
      out[at++] = 0x0d;
      out[at++] = 0x0a;
    }
  }
  return out;
}

function replyError(message: string): Error {
  const err = new Error(message);
  // As ioredis names a server's error reply, so the writer tells it from a lost connection alike.
  err.name = 'ReplyError';
  return err;
}

const OK = Buffer.from('OK');

/** Where the line from `at` ends (its \r\n), or -1: a loop, as most lines are a few bytes and indexOf's call costs more. */
function findLineEnd(buffer: Buffer, at: number): number {
  for (let i = at; i < buffer.length - 1; i++) if (buffer[i] === 0x0d && buffer[i + 1] === 0x0a) return i;
  return -1;
}

/** The decimal integer in bytes from..to (a reply's length, count or value), read without making a string of it. */
function integerIn(buffer: Buffer, from: number, to: number): number {
  const negative = buffer[from] === 0x2d;
  let value = 0;
  for (let i = negative ? from + 1 : from; i < to; i++) {
    const digit = buffer[i]! - 0x30;
    if (digit < 0 || digit > 9) throw new Error(`protocol error: '${buffer.toString('latin1', from, Math.min(to, from + 40))}' is not a number`);
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

type Parsed = { value: RawReply; end: number } | { need: number };

/**
 * One reply from `at`, synchronously: its value and where it ends, or how many bytes the buffer must hold
 * before it can be read (a promise per reply, as an async reader makes, was most of a backup's garbage).
 */
function parseReply(buffer: Buffer, at: number): Parsed {
  const lineEnd = findLineEnd(buffer, at);
  if (lineEnd < 0) {
    if (buffer.length - at > 64 * 1024) throw new Error('protocol error: reply line too long');
    return { need: buffer.length + 1 };
  }
  const next = lineEnd + 2;
  switch (buffer[at]) {
    case 0x2b: // +
      // A RESTORE's answer, a million times in a restore: one shared buffer, not a view each.
      if (lineEnd === at + 3 && buffer[at + 1] === 0x4f && buffer[at + 2] === 0x4b) return { value: OK, end: next };
      return { value: buffer.subarray(at + 1, lineEnd), end: next };
    case 0x2d: // -
      return { value: replyError(buffer.toString('utf8', at + 1, lineEnd)), end: next };
    case 0x3a: // :
      return { value: integerIn(buffer, at + 1, lineEnd), end: next };
    case 0x24: {
      // $
      const length = integerIn(buffer, at + 1, lineEnd);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return { need: next + length + 2 };
      return { value: buffer.subarray(next, next + length), end: next + length + 2 };
    }
    case 0x2a: {
      // *
      const count = integerIn(buffer, at + 1, lineEnd);
      if (count < 0) return { value: null, end: next };
      const items: RawReply[] = [];
      let position = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, position);
        if (!('value' in item)) return item;
        items.push(item.value);
        position = item.end;
      }
      return { value: items, end: position };
    }
    default:
      throw new Error(`protocol error: unexpected reply '${buffer.toString('latin1', at, Math.min(lineEnd, at + 40))}'`);
  }
}

/**
 * Commands written as RESP on a socket of our own, replies parsed in place: a logical backup or restore sends
 * two commands per key, and a client library's object per command (ioredis' Command, its reply callbacks)
 * cost several times what the server takes to run them.
 */
export class RawCommands {
  /** Replies are read batch after batch, in the order the batches were written. */
  private reading: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly socket: net.Socket,
    private readonly reader: SocketReader,
  ) {}

  static async open(target: RedisTarget, signal: AbortSignal): Promise<RawCommands> {
    const raw = RawCommands.on(await rawConnect(target, signal), redisAddress(target));
    try {
      if (target.password !== undefined) {
        const [reply] = await raw.send([target.username ? ['AUTH', target.username, target.password] : ['AUTH', target.password]]);
        if (reply instanceof Error) throw new Error(`authentication failed: ${reply.message}`);
      }
      return raw;
    } catch (err) {
      raw.close();
      throw err;
    }
  }

  /** To a scratch redis-server of our own, on its unix socket (no password). */
  static async openUnix(path: string, signal: AbortSignal): Promise<RawCommands> {
    return RawCommands.on(await rawConnectUnix(path, signal), path);
  }

  private static on(socket: net.Socket, address: string): RawCommands {
    // A later failure reaches the reader (its next read rejects); this only keeps it from being an uncaught event.
    socket.on('error', () => undefined);
    socket.setTimeout(REPLY_TIMEOUT_MS, () => socket.destroy(new Error(`${address} did not answer within ${REPLY_TIMEOUT_MS / 1000} s`)));
    return new RawCommands(socket, new SocketReader(socket));
  }

  /** Writes the commands at once; resolves with their replies, in order. */
  send(commands: RawArg[][]): Promise<RawReply[]> {
    this.socket.write(encodeCommands(commands));
    const replies = this.reading.then(() => this.reader.parse(commands.length, parseReply));
    this.reading = replies.catch(() => undefined);
    return replies;
  }

  /** Each command's error reply, or undefined where it succeeded. */
  async errors(commands: RawArg[][]): Promise<Array<Error | undefined>> {
    return (await this.send(commands)).map((reply) => (reply instanceof Error ? reply : undefined));
  }

  async select(db: number): Promise<void> {
    const [reply] = await this.send([['SELECT', db]]);
    if (reply instanceof Error) throw reply;
  }

  close(): void {
    this.socket.destroy();
  }
}
