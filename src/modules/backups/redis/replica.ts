import type net from 'node:net';
import type { RedisTarget } from '../../../agent/kit/redis.js';
import type { ByteSink } from '../sink.js';
import { UnsupportedError } from '../kinds/kind.js';
import { isRefusal, rawConnect } from './connection.js';
import { SocketReader } from './socket-reader.js';

const EOF_MARK_LENGTH = 40;
/** With keepalives every second, this much silence means the server is gone. */
const IDLE_TIMEOUT_MS = 120_000;

function command(...args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
}

async function simple(socket: net.Socket, reader: SocketReader, args: string[]): Promise<string> {
  socket.write(command(...args));
  return reader.line();
}

async function writeExact(reader: SocketReader, sink: ByteSink, length: number): Promise<void> {
  let remaining = length;
  while (remaining > 0) {
    // A server without rdb-only goes on with the replication stream right after the payload; that is not ours.
    const chunk = (await reader.chunk()).subarray(0, remaining);
    await sink.write(chunk);
    remaining -= chunk.length;
  }
}

/** Diskless transfers end with a 40-byte mark instead of announcing a length: hold the last 40 bytes back until the end is seen. */
async function writeUntilMark(reader: SocketReader, sink: ByteSink, mark: Buffer): Promise<void> {
  let tail: Buffer = Buffer.alloc(0);
  for (;;) {
    const data = Buffer.concat([tail, await reader.chunk()]);
    if (data.length >= EOF_MARK_LENGTH && data.subarray(data.length - EOF_MARK_LENGTH).equals(mark)) {
      await sink.write(data.subarray(0, data.length - EOF_MARK_LENGTH));
      return;
    }
    const keep = Math.min(EOF_MARK_LENGTH, data.length);
    await sink.write(data.subarray(0, data.length - keep));
    tail = data.subarray(data.length - keep);
  }
}

/**
 * Takes an RDB snapshot the way `redis-cli --rdb` does: connect as a replica (AUTH, REPLCONF rdb-only,
 * SYNC or else PSYNC ? -1) and stream the full-resync payload into the sink. A server that refuses both
 * sync commands (managed Redis, rename-command) raises UnsupportedError.
 */
export async function snapshotOverReplication(endpoint: RedisTarget, sink: ByteSink, signal: AbortSignal): Promise<string> {
  const socket = await rawConnect(endpoint, signal);
  socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy(new Error(`no data from the server for ${IDLE_TIMEOUT_MS / 1000} s`)));
  const reader = new SocketReader(socket);
  try {
    if (endpoint.password !== undefined) {
      const args = endpoint.username ? ['AUTH', endpoint.username, endpoint.password] : ['AUTH', endpoint.password];
      const reply = await simple(socket, reader, args);
      if (!reply.startsWith('+')) throw new Error(`authentication failed: ${reply.slice(1)}`);
    }
    // Asks the server (7.0+) to end the connection after the snapshot instead of streaming commands; older ones answer an error, which is fine.
    await simple(socket, reader, ['REPLCONF', 'rdb-only', '1']);

    let how = 'SYNC';
    socket.write(command('SYNC'));
    await reader.skipKeepalives();
    let header = await reader.line();
    if (header.startsWith('-')) {
      const syncRefusal = header.slice(1);
      how = 'PSYNC';
      socket.write(command('PSYNC', '?', '-1'));
      await reader.skipKeepalives();
      header = await reader.line();
      if (header.startsWith('-')) {
        const psyncRefusal = header.slice(1);
        if (isRefusal(syncRefusal) && isRefusal(psyncRefusal)) {
          throw new UnsupportedError(
            `this server refuses replication (SYNC: ${syncRefusal}; PSYNC: ${psyncRefusal}); managed services such as ElastiCache or ` +
              'Upstash do not allow it: use the provider\'s snapshots, or mode "file" on a server you run',
          );
        }
        throw new Error(`the server refused PSYNC: ${psyncRefusal}`);
      }
      if (!header.startsWith('+FULLRESYNC')) throw new Error(`protocol error: unexpected PSYNC reply '${header.slice(0, 80)}'`);
      await reader.skipKeepalives();
      header = await reader.line();
    }
    if (!header.startsWith('$')) throw new Error(`protocol error: expected the RDB payload header, got '${header.slice(0, 80)}'`);
    if (header.startsWith('$EOF:')) {
      const mark = Buffer.from(header.slice(5), 'latin1');
      if (mark.length !== EOF_MARK_LENGTH) throw new Error('protocol error: bad EOF mark');
      await writeUntilMark(reader, sink, mark);
      return `${how} (diskless)`;
    }
    const length = Number(header.slice(1));
    if (!Number.isSafeInteger(length) || length < 0) throw new Error(`protocol error: bad payload length '${header}'`);
    await writeExact(reader, sink, length);
    return how;
  } finally {
    socket.destroy();
  }
}
