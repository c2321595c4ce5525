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

async function readReply(reader: SocketReader): Promise<RawReply> {
  const line = await reader.line();
  const rest = line.slice(1);
  switch (line[0]) {
    case '+':
      return Buffer.from(rest);
    case '-':
      return replyError(rest);
    case ':':
      return Number(rest);
    case '$': {
      const length = Number(rest);
      if (length < 0) return null;
      return (await reader.exact(length + 2)).subarray(0, length);
    }
    case '*': {
      const count = Number(rest);
      if (count < 0) return null;
      const items: RawReply[] = [];
      for (let i = 0; i < count; i++) items.push(await readReply(reader));
      return items;
    }
    default:
      throw new Error(`protocol error: unexpected reply '${line.slice(0, 40)}'`);
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
    const replies = this.reading.then(async () => {
      const out: RawReply[] = [];
      for (let i = 0; i < commands.length; i++) out.push(await readReply(this.reader));
      return out;
    });
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
