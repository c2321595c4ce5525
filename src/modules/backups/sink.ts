import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** Where a dump's bytes go: counted and hashed on the way, so the sha256 costs no second read. */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
  readonly bytes: number;
}

/** Bytes a sink accepts ahead of the disk before a write waits: lets the producer run on while a write is in flight. */
const WRITE_AHEAD_BYTES = 4 * 1024 * 1024;

export class FileSink implements ByteSink {
  private readonly hash: Hash = createHash('sha256');
  private written = 0;
  private pending = 0;
  /** Writes go out one after another (one fd, no positions); this is the last one queued. */
  private queue: Promise<void> = Promise.resolve();
  private failure: unknown;

  private constructor(private readonly handle: FileHandle) {}

  /** Creates the file; fails if it exists. Backups hold data and secrets, so only the owner reads them. */
  static async create(path: string): Promise<FileSink> {
    return new FileSink(await open(path, 'wx', 0o600));
  }

  get bytes(): number {
    return this.written;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.hash.update(chunk);
    this.written += chunk.length;
    this.pending += chunk.length;
    this.queue = this.queue.then(async () => {
      if (this.failure !== undefined) return;
      try {
        let offset = 0;
        while (offset < chunk.length) offset += (await this.handle.write(chunk, offset, chunk.length - offset)).bytesWritten;
      } catch (err) {
        this.failure = err;
      } finally {
        this.pending -= chunk.length;
      }
    });
    if (this.pending > WRITE_AHEAD_BYTES) await this.queue;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Waits for queued writes, fsyncs and closes; the digest of everything written. */
  async finish(): Promise<string> {
    await this.queue;
    if (this.failure !== undefined) throw this.failure;
    await this.handle.sync();
    await this.handle.close();
    return this.hash.digest('hex');
  }

  async abandon(): Promise<void> {
    await this.queue;
    await this.handle.close().catch(() => undefined);
  }
}

/** Copies a stream into a sink, one awaited write at a time (backpressure without buffering), until the end or an abort. */
export async function pipeInto(source: Readable, sink: ByteSink, signal: AbortSignal): Promise<void> {
  const onAbort = () => source.destroy(new Error('cancelled'));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of source) await sink.write(chunk as Buffer);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
