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

/** Writes records into a sink, closing a checksummed block every ~1 MiB; the payload is written as it is, never copied. */
export class LogicalWriter {
  private hash: Hash = createHash('sha256');
  private blockBytes = 0;
  private blockRecords = 0;
  private blocks = 0;
  keys = 0;

  constructor(private readonly sink: ByteSink) {}

  private async put(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    this.blockBytes += chunk.length;
    await this.sink.write(chunk);
  }

  async start(): Promise<void> {
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt32BE(FORMAT_VERSION, 8);
    await this.sink.write(header);
  }

  async record({ db, key, expireAt, payload }: LogicalRecord): Promise<void> {
    const head = Buffer.alloc(RECORD_HEAD_BYTES);
    head[0] = TAG_RECORD;
    head.writeUInt16BE(db, 1);
    head.writeUInt32BE(key.length, 3);
    head.writeBigInt64BE(BigInt(expireAt ?? -1), 7);
    head.writeUInt32BE(payload.length, 15);
    await this.put(head);
    await this.put(key);
    await this.put(payload);
    this.keys++;
    this.blockRecords++;
    if (this.blockBytes >= BLOCK_BYTES) await this.closeBlock();
  }

  private async closeBlock(): Promise<void> {
    const end = Buffer.alloc(1 + 4 + 32);
    end[0] = TAG_BLOCK;
    end.writeUInt32BE(this.blockRecords, 1);
    this.hash.digest().copy(end, 5);
    await this.sink.write(end);
    this.blocks++;
    this.hash = createHash('sha256');
    this.blockBytes = 0;
    this.blockRecords = 0;
  }

  async finish(): Promise<void> {
    if (this.blockRecords > 0) await this.closeBlock();
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

/** Reads a file front to back through one buffer, hashing the bytes of the current block as they are taken. */
class FileReader {
  private buffer = Buffer.alloc(0);
  private fileOffset = 0;
  /** Offset in the file of the first byte of `buffer`. */
  private bufferStart = 0;
  hash: Hash = createHash('sha256');
  /** Off for the header and the block and trailer frames, which the block's sha256 does not cover. */
  hashing = false;

  constructor(private readonly handle: FileHandle) {}

  get offset(): number {
    return this.bufferStart;
  }

  private async fill(need: number): Promise<boolean> {
    while (this.buffer.length < need) {
      const chunk = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, need - this.buffer.length));
      const { bytesRead } = await this.handle.read(chunk, 0, chunk.length, this.fileOffset);
      if (bytesRead === 0) return false;
      this.fileOffset += bytesRead;
      this.buffer = this.buffer.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([this.buffer, chunk.subarray(0, bytesRead)]);
    }
    return true;
  }

  /** Exactly n bytes (a view into the read buffer); the end of the file before them is an error. */
  async take(n: number, what: string | (() => string)): Promise<Buffer> {
    if (!(await this.fill(n))) throw new LogicalFormatError(`the file ends inside ${typeof what === 'string' ? what : what()} at byte ${this.bufferStart + this.buffer.length}: it was cut short`);
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    this.bufferStart += n;
    if (this.hashing) this.hash.update(out);
    return out;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
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
    const header = await reader.take(HEADER_BYTES, 'the header').catch(() => {
      throw new LogicalFormatError('not a caretaker logical Redis backup: shorter than its header');
    });
    if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw new LogicalFormatError('not a caretaker logical Redis backup: the file does not start with CTRLOG');
    const version = header.readUInt32BE(8);
    if (version !== FORMAT_VERSION) throw new LogicalFormatError(`logical backup format version ${version}; this caretaker reads version ${FORMAT_VERSION}: restore it with a newer caretaker`);
    let index = 0;
    let blocks = 0;
    let blockRecords = 0;
    let blockFirst: { index: number; key: Buffer; offset: number } | undefined;
    for (;;) {
      signal?.throwIfAborted();
      const at = reader.offset;
      if (await reader.atEnd()) throw new LogicalFormatError(`the file ends at byte ${at} without its trailer: it was cut short (${index} records read)`);
      reader.hashing = false;
      const tagByte = await reader.take(1, 'a frame tag');
      const tag = tagByte[0];
      if (tag === TAG_RECORD) {
        reader.hash.update(tagByte);
        reader.hashing = true;
        const head = await reader.take(RECORD_HEAD_BYTES - 1, () => `record ${index + 1}`);
        const db = head.readUInt16BE(0);
        const keyLength = head.readUInt32BE(2);
        const expireAt = Number(head.readBigInt64BE(6));
        const payloadLength = head.readUInt32BE(14);
        if (keyLength > MAX_FIELD_BYTES || payloadLength > MAX_FIELD_BYTES || expireAt < -1) {
          throw new LogicalFormatError(`record ${index + 1} at byte ${at}: impossible lengths (key ${keyLength}, payload ${payloadLength}): the file is corrupt`);
        }
        // Views into the read buffer: a batch of records in flight holds a few of its 1 MiB reads, no copy each.
        const key = await reader.take(keyLength, () => `the key of record ${index + 1}`);
        const payload = await reader.take(payloadLength, () => `the payload of record ${index + 1} (key ${describeKey(key)})`);
        index++;
        blockRecords++;
        blockFirst ??= { index, key, offset: at };
        await onRecord({ db, key, expireAt: expireAt === -1 ? undefined : expireAt, payload }, index);
      } else if (tag === TAG_BLOCK) {
        const expected = reader.hash.digest();
        const end = await reader.take(4 + 32, () => `the end of block ${blocks + 1}`);
        const where = blockFirst ? `records ${blockFirst.index}-${index}, from key ${describeKey(blockFirst.key)} at byte ${blockFirst.offset}` : `at byte ${at}`;
        if (end.readUInt32BE(0) !== blockRecords) throw new LogicalFormatError(`block ${blocks + 1} (${where}) says ${end.readUInt32BE(0)} records, holds ${blockRecords}: the file is corrupt`);
        if (!end.subarray(4).equals(expected)) throw new LogicalFormatError(`block ${blocks + 1} (${where}): sha256 mismatch, its bytes changed since it was written`);
        blocks++;
        blockRecords = 0;
        blockFirst = undefined;
        reader.hash = createHash('sha256');
      } else if (tag === TAG_TRAILER) {
        if (blockRecords > 0) throw new LogicalFormatError(`the trailer at byte ${at} follows ${blockRecords} records outside a block: the file is corrupt`);
        const trailer = await reader.take(8 + 4 + END_MAGIC.length, 'the trailer');
        const keys = Number(trailer.readBigUInt64BE(0));
        if (!trailer.subarray(12).equals(END_MAGIC)) throw new LogicalFormatError(`the trailer at byte ${at} is damaged`);
        if (keys !== index || trailer.readUInt32BE(8) !== blocks) {
          throw new LogicalFormatError(`the trailer says ${keys} keys in ${trailer.readUInt32BE(8)} blocks, the file holds ${index} in ${blocks}: the file is corrupt`);
        }
        if (!(await reader.atEnd())) throw new LogicalFormatError(`bytes after the trailer at byte ${reader.offset}: the file is corrupt`);
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
