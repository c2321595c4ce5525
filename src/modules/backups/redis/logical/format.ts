import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { ByteSink } from '../../sink.js';

/**
 * The logical backup file (`.rlog`), documented in the module README:
 *
 *   header   8 bytes magic `CTRLOG\r\n`, u32 format version, u32 flags (0)
 *   record   'R', u16 db, u32 key length, i64 absolute expiry in ms (-1: none), u32 payload length, key, DUMP payload
 *   block    'B', u32 records since the previous block, sha256 of every byte since the previous block (or the header)
 *   trailer  'T', u64 keys, u32 blocks, 8 bytes `RLOGEND\n`, then the end of the file
 *
 * Integers are big-endian. A block closes after about BLOCK_BYTES, so a check names the block (and its first
 * key) whose bytes changed, and a file cut short is told from a whole one by its trailer.
 */
export const MAGIC = Buffer.from('CTRLOG\r\n', 'latin1');
const END_MAGIC = Buffer.from('RLOGEND\n', 'latin1');
export const FORMAT_VERSION = 1;
const HEADER_BYTES = 16;
const RECORD_HEAD_BYTES = 1 + 2 + 4 + 8 + 4;
const BLOCK_BYTES = 1024 * 1024;
/** A key or payload longer than this is corruption, not data: Redis itself caps a bulk string at 512 MB. */
const MAX_FIELD_BYTES = 512 * 1024 * 1024;

const TAG_RECORD = 0x52;
const TAG_BLOCK = 0x42;
const TAG_TRAILER = 0x54;

export interface LogicalRecord {
  db: number;
  key: Buffer;
  /** Absolute expiry in ms since the epoch, or undefined for a key without a TTL. */
  expireAt: number | undefined;
  /** What DUMP answered: the value in the server's serialization, with its RDB version and CRC64. */
  payload: Buffer;
}

/**
 * Writes records into a sink, closing a checksummed block every ~1 MiB. Records are copied into one buffer,
 * hashed and handed to the sink (which copies them) when it is full or the block closes: three writes and three
 * hash updates a key were most of a backup's time. A record larger than the buffer goes to the sink as it is.
 */
export class LogicalWriter {
  private hash: Hash = createHash('sha256');
  private readonly block = Buffer.allocUnsafe(BLOCK_BYTES);
  /** Bytes of `block` filled and not yet handed to the sink. */
  private filled = 0;
  private blockBytes = 0;
  private blockRecords = 0;
  private blocks = 0;
  private pending: Array<Promise<void>> = [];
  keys = 0;

  constructor(private readonly sink: ByteSink) {}

  async start(): Promise<void> {
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt32BE(FORMAT_VERSION, 8);
    await this.sink.write(header);
  }

  /** Takes a record; returns a promise only when the caller must wait (a chunk went to a full sink). */
  record({ db, key, expireAt, payload }: LogicalRecord): Promise<void> | void {
    const size = RECORD_HEAD_BYTES + key.length + payload.length;
    if (this.filled + size > this.block.length) this.handOver();
    const fits = size <= this.block.length;
    const head = fits ? this.block.subarray(this.filled, this.filled + RECORD_HEAD_BYTES) : Buffer.allocUnsafe(RECORD_HEAD_BYTES);
    head[0] = TAG_RECORD;
    head.writeUInt16BE(db, 1);
    head.writeUInt32BE(key.length, 3);
    head.writeBigInt64BE(BigInt(expireAt ?? -1), 7);
    head.writeUInt32BE(payload.length, 15);
    if (fits) {
      key.copy(this.block, this.filled + RECORD_HEAD_BYTES);
      payload.copy(this.block, this.filled + RECORD_HEAD_BYTES + key.length);
      this.filled += size;
    } else {
      // Larger than a block (the records before it were handed over above): hashed and written as it is.
      for (const part of [head, key, payload]) {
        this.hash.update(part);
        this.put(part);
      }
    }
    this.blockBytes += size;
    this.keys++;
    this.blockRecords++;
    if (this.blockBytes >= BLOCK_BYTES) this.closeBlock();
    return this.waits();
  }

  /** Writes a chunk into the sink, keeping its wait for record() to return. */
  private put(chunk: Buffer): void {
    const wait = this.sink.write(chunk);
    if (!wait) return;
    // Returned from record() with the others; one failing before that is not an unhandled rejection.
    wait.catch(() => undefined);
    this.pending.push(wait);
  }

  private waits(): Promise<void> | void {
    if (this.pending.length === 0) return;
    const all = Promise.all(this.pending);
    this.pending = [];
    return all.then(() => undefined);
  }

  /** Hashes the records gathered in `block` and hands them to the sink, which copies them: the buffer is filled again. */
  private handOver(): void {
    if (this.filled === 0) return;
    const records = this.block.subarray(0, this.filled);
    this.hash.update(records);
    this.put(records);
    this.filled = 0;
  }

  private closeBlock(): void {
    this.handOver();
    const end = Buffer.alloc(1 + 4 + 32);
    end[0] = TAG_BLOCK;
    end.writeUInt32BE(this.blockRecords, 1);
    this.hash.digest().copy(end, 5);
    this.put(end);
    this.blocks++;
    this.hash = createHash('sha256');
    this.blockBytes = 0;
    this.blockRecords = 0;
  }

  async finish(): Promise<void> {
    if (this.blockRecords > 0) this.closeBlock();
    await this.waits();
    const trailer = Buffer.alloc(1 + 8 + 4 + END_MAGIC.length);
    trailer[0] = TAG_TRAILER;
    trailer.writeBigUInt64BE(BigInt(this.keys), 1);
    trailer.writeUInt32BE(this.blocks, 9);
    END_MAGIC.copy(trailer, 13);
    await this.sink.write(trailer);
  }
}

/** A logical file that is not what its writer wrote; the message names the record or block and the byte offset. */
export class LogicalFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogicalFormatError';
  }
}

/** Whether a file starts with the logical format's magic (an RDB file starts with `REDIS`). */
export async function isLogicalFile(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(MAGIC.length);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return bytesRead === MAGIC.length && head.equals(MAGIC);
  } finally {
    await handle.close();
  }
}

/**
 * Reads a file front to back through one buffer. Reading is synchronous while the buffer holds what is asked
 * for (a promise per field was most of a restore's time), and the current block's bytes are hashed in spans:
 * when the buffer is refilled and when the block ends.
 */
class FileReader {
  private buffer = Buffer.alloc(0);
  /** The next unread byte of `buffer`. */
  private at = 0;
  /** Bytes read from the file so far. */
  private fileOffset = 0;
  /** Where in `buffer` the current block's bytes not yet hashed start; undefined outside a block's records. */
  private hashFrom: number | undefined;
  private hash: Hash = createHash('sha256');

  constructor(private readonly handle: FileHandle) {}

  /** Offset in the file of the next unread byte. */
  get offset(): number {
    return this.fileOffset - this.available;
  }

  get available(): number {
    return this.buffer.length - this.at;
  }

  /** Where the file ends, once a fill has come short of it. */
  get end(): number {
    return this.fileOffset;
  }

  /**
   * Makes at least n unread bytes available; false when the file ends first. A new buffer every time: the
   * records handed out are views into the old one, still in use.
   */
  async fill(n: number): Promise<boolean> {
    if (this.available >= n) return true;
    if (this.hashFrom !== undefined) {
      this.hash.update(this.buffer.subarray(this.hashFrom, this.at));
      this.hashFrom = 0;
    }
    const size = Math.max(BLOCK_BYTES, n);
    const next = Buffer.allocUnsafe(size);
    let have = this.buffer.copy(next, 0, this.at);
    this.at = 0;
    while (have < n) {
      const { bytesRead } = await this.handle.read(next, have, size - have, this.fileOffset);
      if (bytesRead === 0) break;
      this.fileOffset += bytesRead;
      have += bytesRead;
    }
    this.buffer = next.subarray(0, have);
    return have >= n;
  }

  peek(at: number): number {
    return this.buffer[this.at + at]!;
  }

  /** Integers `at` bytes ahead, read in place (a view, or a BigInt, for every record was garbage a restore paid for). */
  u16(at: number): number {
    return this.buffer.readUInt16BE(this.at + at);
  }

  u32(at: number): number {
    return this.buffer.readUInt32BE(this.at + at);
  }

  /** A signed 64-bit integer that fits a double (an expiry in ms, or -1). */
  i64(at: number): number {
    return this.buffer.readInt32BE(this.at + at) * 0x1_0000_0000 + this.buffer.readUInt32BE(this.at + at + 4);
  }

  skip(n: number): void {
    this.at += n;
  }

  /** The next n bytes, which fill() made available: a view into the buffer. */
  take(n: number): Buffer {
    const out = this.buffer.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** The bytes from here on belong to a block's records, which its sha256 covers. */
  startBlock(): void {
    this.hashFrom = this.at;
  }

  /** The sha256 of the current block's bytes up to here. */
  blockDigest(): Buffer {
    if (this.hashFrom !== undefined) this.hash.update(this.buffer.subarray(this.hashFrom, this.at));
    this.hashFrom = undefined;
    const digest = this.hash.digest();
    this.hash = createHash('sha256');
    return digest;
  }
}

export interface ReadSummary {
  keys: number;
  blocks: number;
}

function describeKey(key: Buffer): string {
  return JSON.stringify(key.subarray(0, 80).toString('utf8'));
}

/**
 * Reads a logical file record by record, checking the header, every block's count and sha256 and the trailer;
 * `onRecord` sees each record before its block is checked (a restore runs after a full check). Memory: one read
 * buffer and the largest record.
 */
export async function readLogicalFile(path: string, onRecord: (record: LogicalRecord, index: number) => Promise<void> | void, signal?: AbortSignal): Promise<ReadSummary> {
  const handle = await open(path, 'r');
  try {
    const reader = new FileReader(handle);
    if (!(await reader.fill(HEADER_BYTES))) throw new LogicalFormatError('not a caretaker logical Redis backup: shorter than its header');
    const header = reader.take(HEADER_BYTES);
    if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw new LogicalFormatError('not a caretaker logical Redis backup: the file does not start with CTRLOG');
    const version = header.readUInt32BE(8);
    if (version !== FORMAT_VERSION) throw new LogicalFormatError(`logical backup format version ${version}; this caretaker reads version ${FORMAT_VERSION}: restore it with a newer caretaker`);
    const cutShort = (what: string) => new LogicalFormatError(`the file ends inside ${what} at byte ${reader.end}: it was cut short`);
    let index = 0;
    let blocks = 0;
    let blockRecords = 0;
    let blockFirst: { index: number; key: Buffer; offset: number } | undefined;
    reader.startBlock();
    for (;;) {
      signal?.throwIfAborted();
      const at = reader.offset;
      if (reader.available < 1 && !(await reader.fill(1))) throw new LogicalFormatError(`the file ends at byte ${at} without its trailer: it was cut short (${index} records read)`);
      const tag = reader.peek(0);
      if (tag === TAG_RECORD) {
        if (reader.available < RECORD_HEAD_BYTES && !(await reader.fill(RECORD_HEAD_BYTES))) throw cutShort(`record ${index + 1}`);
        const db = reader.u16(1);
        const keyLength = reader.u32(3);
        const expireAt = reader.i64(7);
        const payloadLength = reader.u32(15);
        reader.skip(RECORD_HEAD_BYTES);
        if (keyLength > MAX_FIELD_BYTES || payloadLength > MAX_FIELD_BYTES || expireAt < -1) {
          throw new LogicalFormatError(`record ${index + 1} at byte ${at}: impossible lengths (key ${keyLength}, payload ${payloadLength}): the file is corrupt`);
        }
        if (reader.available < keyLength && !(await reader.fill(keyLength))) throw cutShort(`the key of record ${index + 1}`);
        // Views into the read buffer: a batch of records in flight holds a few of its 1 MiB reads, no copy each.
        const key = reader.take(keyLength);
        if (reader.available < payloadLength && !(await reader.fill(payloadLength))) throw cutShort(`the payload of record ${index + 1} (key ${describeKey(key)})`);
        const payload = reader.take(payloadLength);
        index++;
        blockRecords++;
        blockFirst ??= { index, key, offset: at };
        // Awaited only when the consumer must be waited for: most records are taken synchronously.
        const wait = onRecord({ db, key, expireAt: expireAt === -1 ? undefined : expireAt, payload }, index);
        if (wait) await wait;
      } else if (tag === TAG_BLOCK) {
        const expected = reader.blockDigest();
        if (!(await reader.fill(1 + 4 + 32))) throw cutShort(`the end of block ${blocks + 1}`);
        const end = reader.take(1 + 4 + 32).subarray(1);
        reader.startBlock();
        const where = blockFirst ? `records ${blockFirst.index}-${index}, from key ${describeKey(blockFirst.key)} at byte ${blockFirst.offset}` : `at byte ${at}`;
        if (end.readUInt32BE(0) !== blockRecords) throw new LogicalFormatError(`block ${blocks + 1} (${where}) says ${end.readUInt32BE(0)} records, holds ${blockRecords}: the file is corrupt`);
        if (!end.subarray(4).equals(expected)) throw new LogicalFormatError(`block ${blocks + 1} (${where}): sha256 mismatch, its bytes changed since it was written`);
        blocks++;
        blockRecords = 0;
        blockFirst = undefined;
      } else if (tag === TAG_TRAILER) {
        if (blockRecords > 0) throw new LogicalFormatError(`the trailer at byte ${at} follows ${blockRecords} records outside a block: the file is corrupt`);
        const trailerBytes = 1 + 8 + 4 + END_MAGIC.length;
        if (!(await reader.fill(trailerBytes))) throw cutShort('the trailer');
        const trailer = reader.take(trailerBytes).subarray(1);
        const keys = Number(trailer.readBigUInt64BE(0));
        if (!trailer.subarray(12).equals(END_MAGIC)) throw new LogicalFormatError(`the trailer at byte ${at} is damaged`);
        if (keys !== index || trailer.readUInt32BE(8) !== blocks) {
          throw new LogicalFormatError(`the trailer says ${keys} keys in ${trailer.readUInt32BE(8)} blocks, the file holds ${index} in ${blocks}: the file is corrupt`);
        }
        if (await reader.fill(1)) throw new LogicalFormatError(`bytes after the trailer at byte ${reader.offset}: the file is corrupt`);
        return { keys, blocks };
      } else {
        const after = index > 0 ? ` after record ${index}` : '';
        throw new LogicalFormatError(`unknown frame 0x${(tag ?? 0).toString(16).padStart(2, '0')} at byte ${at}${after}: the file is corrupt`);
      }
    }
  } finally {
    await handle.close();
  }
}
