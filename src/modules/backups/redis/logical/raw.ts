import type net from 'node:net';
import { redisAddress, type RedisTarget } from '../../../../agent/kit/redis.js';
import { rawConnect } from '../connection.js';
import { SocketReader } from '../socket-reader.js';

const REPLY_TIMEOUT_MS = 60_000;
const CRLF = Buffer.from('\r\n');

export type RawArg = Buffer | string | number;
/** A RESP2 reply: a status or bulk string as bytes, an integer, nil, an error reply, or an array of replies. */
export type RawReply = Buffer | number | null | Error | RawReply[];

function encode(args: RawArg[], parts: Buffer[]): void {
  parts.push(Buffer.from(`*${args.length}\r\n`));
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
}

function replyError(message: string): Error {
  const err = new Error(message);
  // As ioredis names a server's error reply, so the writer tells it from a lost connection alike.
  err.name = 'ReplyError';
  return err;
}

type Parsed = { value: RawReply; end: number } | { need: number };

/**
 * One reply from `at`, synchronously: its value and where it ends, or how many bytes the buffer must hold
 * before it can be read (a promise per reply, as an async reader makes, was most of a backup's garbage).
 */
function parseReply(buffer: Buffer, at: number): Parsed {
  const lineEnd = buffer.indexOf('\r\n', at);
  if (lineEnd < 0) {
    if (buffer.length - at > 64 * 1024) throw new Error('protocol error: reply line too long');
    return { need: buffer.length + 1 };
  }
  const head = buffer.toString('latin1', at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (buffer[at]) {
    case 0x2b: // +
      return { value: buffer.subarray(at + 1, lineEnd), end: next };
    case 0x2d: // -
      return { value: replyError(buffer.toString('utf8', at + 1, lineEnd)), end: next };
    case 0x3a: // :
      return { value: Number(head), end: next };
    case 0x24: {
      // $
      const length = Number(head);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return { need: next + length + 2 };
      return { value: buffer.subarray(next, next + length), end: next + length + 2 };
    }
    case 0x2a: {
      // *
      const count = Number(head);
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
      throw new Error(`protocol error: unexpected reply '${head.slice(0, 40)}'`);
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
    const socket = await rawConnect(target, signal);
    // A later failure reaches the reader (its next read rejects); this only keeps it from being an uncaught event.
    socket.on('error', () => undefined);
    socket.setTimeout(REPLY_TIMEOUT_MS, () => socket.destroy(new Error(`${redisAddress(target)} did not answer within ${REPLY_TIMEOUT_MS / 1000} s`)));
    const raw = new RawCommands(socket, new SocketReader(socket));
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

  /** Writes the commands at once; resolves with their replies, in order. */
  send(commands: RawArg[][]): Promise<RawReply[]> {
    const parts: Buffer[] = [];
    for (const args of commands) encode(args, parts);
    this.socket.write(Buffer.concat(parts));
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
