import type net from 'node:net';
import { redisAddress, type RedisTarget } from '../../../../agent/kit/redis.js';
import { rawConnect } from '../connection.js';
import { SocketReader } from '../socket-reader.js';

const REPLY_TIMEOUT_MS = 60_000;
const CRLF = Buffer.from('\r\n');

export type RawArg = Buffer | string | number;

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

/**
 * RESTOREs written as RESP on a socket of our own, replies read as lines: a restore sends one command per key,
 * and a client library's object per command (ioredis' Command, its reply callbacks) cost several times what
 * the server takes to run them. Only for commands whose replies are one line (+OK, -ERR, :n).
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
        const [err] = await raw.send([target.username ? ['AUTH', target.username, target.password] : ['AUTH', target.password]]);
        if (err) throw new Error(`authentication failed: ${err.message}`);
      }
      return raw;
    } catch (err) {
      raw.close();
      throw err;
    }
  }

  /** Writes the commands at once; resolves with each one's error reply, or undefined where it succeeded. */
  send(commands: RawArg[][]): Promise<Array<Error | undefined>> {
    const parts: Buffer[] = [];
    for (const args of commands) encode(args, parts);
    this.socket.write(Buffer.concat(parts));
    const replies = this.reading.then(async () => {
      const out: Array<Error | undefined> = [];
      for (let i = 0; i < commands.length; i++) {
        const line = await this.reader.line();
        if (line.startsWith('-')) out.push(replyError(line.slice(1)));
        else if (line.startsWith('+') || line.startsWith(':')) out.push(undefined);
        else throw new Error(`protocol error: unexpected reply '${line.slice(0, 40)}'`);
      }
      return out;
    });
    this.reading = replies.catch(() => undefined);
    return replies;
  }

  async select(db: number): Promise<void> {
    const [err] = await this.send([['SELECT', db]]);
    if (err) throw err;
  }

  close(): void {
    this.socket.destroy();
  }
}
