import type { Redis } from 'ioredis';

/** Elements read per command (HSCAN/SSCAN/ZSCAN COUNT, LRANGE and XRANGE spans). */
const READ_CHUNK = 500;
/** A string longer than this is read with GETRANGE and written with SET + APPEND in pieces of this size. */
const STRING_CHUNK = 1024 * 1024;

type Arg = string | Buffer | number;

/** A key that cannot be copied by type (a module's type, a payload the scratch server cannot read): that key fails, the rest go on. */
export class TypeCopyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TypeCopyError';
  }
}

export interface TypeCopyOptions {
  /** Requests to the target stay under this many bytes where the data allows (one element larger than it goes alone). */
  maxRequestBytes: number;
  /** Absolute expiry to set when done, in ms since the epoch. */
  expireAt: number | undefined;
}

function sizeOf(arg: Arg): number {
  return typeof arg === 'number' ? 24 : Buffer.byteLength(arg);
}

/** Gathers arguments of one variadic command (HSET key f v f v …) into requests under the byte and count bounds. */
class ChunkedWrite {
  private args: Arg[] = [];
  private bytes = 0;
  private readonly limit: number;

  constructor(
    private readonly to: Redis,
    private readonly command: string,
    private readonly key: Buffer,
    maxRequestBytes: number,
  ) {
    // Headroom for the command, the key and the protocol's framing.
    this.limit = Math.max(1024, Math.min(maxRequestBytes, 8 * 1024 * 1024) - key.length - 1024);
  }

  async add(...group: Arg[]): Promise<void> {
    const size = group.reduce<number>((sum, a) => sum + sizeOf(a) + 16, 0);
    if (this.args.length > 0 && (this.bytes + size > this.limit || this.args.length >= READ_CHUNK * 2)) await this.flush();
    this.args.push(...group);
    this.bytes += size;
  }

  async flush(): Promise<void> {
    if (this.args.length === 0) return;
    const args = this.args;
    this.args = [];
    this.bytes = 0;
    await this.to.callBuffer(this.command, this.key, ...args);
  }
}

async function copyString(from: Redis, to: Redis, key: Buffer, limit: number): Promise<void> {
  const length = await from.strlen(key);
  const piece = Math.max(1024, Math.min(STRING_CHUNK, limit - key.length - 1024));
  if (length <= piece) {
    await to.set(key, (await from.getBuffer(key)) ?? Buffer.alloc(0));
    return;
  }
  for (let at = 0; at < length; at += piece) {
    const part = await from.getrangeBuffer(key, at, Math.min(length, at + piece) - 1);
    if (at === 0) await to.set(key, part);
    else await to.append(key, part);
  }
}

/** HSCAN / SSCAN / ZSCAN through one key, each reply's elements in groups of `width`. */
async function scanMembers(from: Redis, command: 'HSCAN' | 'SSCAN' | 'ZSCAN', key: Buffer, width: number, each: (group: Buffer[]) => Promise<void>): Promise<void> {
  let cursor = '0';
  do {
    const [next, items] = (await from.callBuffer(command, key, cursor, 'COUNT', READ_CHUNK)) as [Buffer, Buffer[]];
    cursor = next.toString();
    for (let i = 0; i < items.length; i += width) await each(items.slice(i, i + width));
  } while (cursor !== '0');
}

async function copyList(from: Redis, write: ChunkedWrite, key: Buffer): Promise<void> {
  const length = await from.llen(key);
  for (let at = 0; at < length; at += READ_CHUNK) {
    for (const item of await from.lrangeBuffer(key, at, at + READ_CHUNK - 1)) await write.add(item);
  }
}

type Fields = Array<Buffer | string>;
/** XINFO replies as flat [name, value, …] arrays → a record. */
function pairs(reply: unknown): Record<string, unknown> {
  const list = reply as unknown[];
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}

async function copyStream(from: Redis, to: Redis, key: Buffer): Promise<void> {
  const info = pairs(await from.call('XINFO', 'STREAM', key));
  let start = '-';
  let copied = 0;
  for (;;) {
    const entries = (await from.callBuffer('XRANGE', key, start, '+', 'COUNT', READ_CHUNK)) as Array<[Buffer, Fields]>;
    if (entries.length === 0) break;
    // One XADD per entry (their IDs are kept), sent together.
    const write = to.pipeline();
    for (const [id, fields] of entries) write.callBuffer('XADD', key, id, ...fields);
    for (const [err] of (await write.exec()) ?? []) if (err) throw err;
    copied += entries.length;
    start = `(${entries.at(-1)![0].toString()}`;
    if (entries.length < READ_CHUNK) break;
  }
  if (copied === 0) {
    // An empty stream (its entries deleted) is still a key: made by a consumer group that is dropped again.
    await to.call('XGROUP', 'CREATE', key, 'caretaker-empty', '$', 'MKSTREAM');
    await to.call('XGROUP', 'DESTROY', key, 'caretaker-empty');
  }
  const lastId = String(info['last-generated-id']);
  // 7.0 keeps entries-added and max-deleted-entry-id; an older target knows only the last ID.
  if (info['entries-added'] === undefined) await to.call('XSETID', key, lastId);
  else await to.call('XSETID', key, lastId, 'ENTRIESADDED', String(info['entries-added']), 'MAXDELETEDID', String(info['max-deleted-entry-id'])).catch(() => to.call('XSETID', key, lastId));
  for (const raw of (await from.call('XINFO', 'GROUPS', key)) as unknown[]) {
    const group = pairs(raw);
    const name = String(group.name);
    const read = group['entries-read'];
    await to.call('XGROUP', 'CREATE', key, name, String(group['last-delivered-id']), ...(read === null || read === undefined ? [] : ['ENTRIESREAD', String(read)]));
    for (const consumer of (await from.call('XINFO', 'CONSUMERS', key, name)) as unknown[]) {
      await to.call('XGROUP', 'CREATECONSUMER', key, name, String(pairs(consumer).name));
    }
    // Pending entries: claimed back to their consumer with their idle time and delivery count.
    let after = '-';
    for (;;) {
      const pending = (await from.call('XPENDING', key, name, after, '+', READ_CHUNK)) as Array<[string, string, number, number]>;
      if (pending.length === 0) break;
      const claim = to.pipeline();
      for (const [id, consumer, idle, deliveries] of pending) {
        claim.call('XCLAIM', key, name, consumer, '0', id, 'IDLE', String(idle), 'RETRYCOUNT', String(deliveries), 'FORCE', 'JUSTID');
      }
      for (const [err] of (await claim.exec()) ?? []) if (err) throw err;
      after = `(${pending.at(-1)![0]}`;
      if (pending.length < READ_CHUNK) break;
    }
  }
}

/**
 * Copies one key by its type, for a target that would not take its DUMP payload (another RDB version, RESTORE
 * renamed away, a value over the target's request limit): read from `from` in chunks, written to `to` with
 * the type's own commands, then PEXPIREAT. The target key is deleted first (the caller decided it may be
 * replaced); readers of the target may see it half written until this returns.
 */
export async function copyByType(from: Redis, to: Redis, key: Buffer, options: TypeCopyOptions): Promise<void> {
  const type = await from.type(key);
  if (type === 'none') throw new TypeCopyError('the key disappeared from the source before it was copied');
  await to.del(key);
  const limit = options.maxRequestBytes;
  switch (type) {
    case 'string':
      await copyString(from, to, key, limit);
      break;
    case 'hash': {
      const write = new ChunkedWrite(to, 'HSET', key, limit);
      await scanMembers(from, 'HSCAN', key, 2, (group) => write.add(...group));
      await write.flush();
      break;
    }
    case 'set': {
      const write = new ChunkedWrite(to, 'SADD', key, limit);
      await scanMembers(from, 'SSCAN', key, 1, (group) => write.add(...group));
      await write.flush();
      break;
    }
    case 'zset': {
      const write = new ChunkedWrite(to, 'ZADD', key, limit);
      // ZSCAN answers member, score; ZADD takes score, member.
      await scanMembers(from, 'ZSCAN', key, 2, ([member, score]) => write.add(score!, member!));
      await write.flush();
      break;
    }
    case 'list': {
      const write = new ChunkedWrite(to, 'RPUSH', key, limit);
      await copyList(from, write, key);
      await write.flush();
      break;
    }
    case 'stream':
      await copyStream(from, to, key);
      break;
    default:
      throw new TypeCopyError(`a ${type} (a module's type) can only be copied with RESTORE`);
  }
  if (options.expireAt !== undefined) await to.pexpireat(key, options.expireAt);
}
