import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

export type RedisReply = string | number | null | RedisReply[];

export interface RedisTarget {
  port: number;
  host?: string;
  password?: string;
  /** Connect with TLS, verifying the server against this CA (PEM path). */
  tlsCa?: string;
  timeoutMs?: number;
}

/**
 * Sends one command (after AUTH when a password is given) and resolves with its reply; an error reply rejects.
 * Enough RESP2 for tests to seed and read data without a client library.
 */
export function redisCommand(target: RedisTarget, ...args: string[]): Promise<RedisReply> {
  const host = target.host ?? '127.0.0.1';
  const commands = target.password === undefined ? [args] : [['AUTH', target.password], args];
  return new Promise((resolve, reject) => {
    const socket = target.tlsCa
      ? tls.connect({ host, port: target.port, ca: readFileSync(target.tlsCa) })
      : net.connect({ host, port: target.port });
    socket.setTimeout(target.timeoutMs ?? 5_000, () => socket.destroy(new Error('redis reply timed out')));
    socket.once('error', reject);
    socket.write(commands.map(encodeCommand).join(''));

    let buffered = Buffer.alloc(0);
    const replies: RedisReply[] = [];
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      try {
        for (let parsed = parseReply(buffered, 0); parsed; parsed = parseReply(buffered, 0)) {
          replies.push(parsed.reply);
          buffered = buffered.subarray(parsed.end);
        }
      } catch (error) {
        socket.destroy();
        reject(error);
        return;
      }
      if (replies.length === commands.length) {
        socket.end();
        resolve(replies[replies.length - 1] ?? null);
      }
    });
  });
}

function encodeCommand(args: string[]): string {
  return `*${args.length}\r\n` + args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('');
}

/** Parses one reply starting at `start`; undefined when more bytes are needed. */
function parseReply(buffer: Buffer, start: number): { reply: RedisReply; end: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', start);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[start]!);
  const line = buffer.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { reply: line, end: next };
    case '-':
      throw new Error(`redis error reply: ${line}`);
    case ':':
      return { reply: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { reply: buffer.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { reply: null, end: next };
      const items: RedisReply[] = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, end);
        if (!item) return undefined;
        items.push(item.reply);
        end = item.end;
      }
      return { reply: items, end };
    }
    default:
      throw new Error(`unexpected redis reply type ${JSON.stringify(type)}`);
  }
}
