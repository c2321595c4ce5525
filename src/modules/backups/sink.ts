import { createHash } from 'node:crypto';
import { fstatSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { HashWorker } from './hash-worker.js';

/** Where a dump's bytes go: counted and hashed on the way (in a worker thread), so the sha256 costs no second read. */
export interface ByteSink {
  /**
   * Takes a chunk, copied before write() returns (the caller may fill it again); returns a promise only when the
   * caller must wait (the sink is full), so a fast stream costs no promise per chunk.
   */
  write(chunk: Uint8Array): Promise<void> | void;
  readonly bytes: number;
  /**
   * When the sink is a file: its descriptor, for a child process that writes the whole backup to it itself
   * (pg_dump's stdout). write() is not used afterwards; size and sha256 are then taken from the file.
   */
  takeFd?(): number;
}

/** Bytes a sink accepts ahead of the disk before a write waits: lets the producer run on while a write is in flight. */
const WRITE_AHEAD_BYTES = 4 * 1024 * 1024;
/**
 * Chunks are gathered into one write of this size. A pipe hands over 4-64 KiB at a time; one file write and one
 * hash update per chunk kept the event loop about a third busy on a 1 GB dump. A chunk is copied into the
 * batch as it is taken; the batch is written, handed to the hash worker, and comes back from it to be filled
 * again. Fresh batches each time, dropped after hashing, waited for a full GC in the worker, which seldom runs:
 * a 64 MB logical Redis backup grew the agent by as much.
 */
const BATCH_BYTES = 1024 * 1024;
/**
 * While a child writes the file itself (takeFd), what it wrote is pushed to disk this often. With RAM to spare
 * the kernel holds it dirty for up to 30 s (vm.dirty_expire_centisecs), and the fsync after pg_dump exited
 * then wrote most of the dump at once: about a second for 240 MB, 4 % of the run, with nothing else going on.
 */
const WRITE_BACK_INTERVAL_MS = 1000;

export class FileSink implements ByteSink {
  /** Started with the first batch, so a sink handed to a child process (takeFd) never starts one. */
  private hash: HashWorker | undefined;
  private written = 0;
  private pending = 0;
  private batch: Buffer | undefined;
  private batchBytes = 0;
  /** Batches the hash worker has given back. */
  private readonly free: ArrayBuffer[] = [];
  /** Writes go out one after another (one fd, no positions); this is the last one queued. */
  private queue: Promise<void> = Promise.resolve();
  private failure: unknown;
  private direct = false;
  private writeBack: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;

  private constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
  ) {}

  /** Creates the file; fails if it exists. Backups hold data and secrets, so only the owner reads them. */
  static async create(path: string): Promise<FileSink> {
    return new FileSink(await open(path, 'wx', 0o600), path);
  }

  takeFd(): number {
    this.direct = true;
    this.writeBack = setInterval(() => {
      // A failed fdatasync is kept, not dropped: the kernel reports a write-back error to a descriptor once, so
      // the final fsync might not see it again.
      this.syncing ??= this.handle
        .datasync()
        .catch((err: unknown) => {
          this.failure ??= err;
        })
        .finally(() => {
          this.syncing = undefined;
        });
    }, WRITE_BACK_INTERVAL_MS);
    this.writeBack.unref();
    return this.handle.fd;
  }

  private async stopWriteBack(): Promise<void> {
    clearInterval(this.writeBack);
    await this.syncing;
  }

  get bytes(): number {
    return this.written;
  }

  /**
   * Bytes written so far, for a run's progress: what a child writes itself (takeFd) is counted by the
   * file's size, an fstat of a descriptor that is open until finish() (then `bytes` is final).
   */
  get bytesSoFar(): number {
    if (!this.direct) return this.written;
    try {
      return fstatSync(this.handle.fd).size;
    } catch {
      return this.written;
    }
  }

  write(chunk: Uint8Array): Promise<void> | void {
    if (this.failure !== undefined) throw this.failure;
    if (this.direct) throw new Error('this sink was handed to a child process');
    this.written += chunk.length;
    this.pending += chunk.length;
    for (let from = 0; from < chunk.length; ) {
      // Its own ArrayBuffer (never the shared pool), so it can be transferred to the hash worker afterwards.
      const batch = (this.batch ??= this.nextBatch());
      const n = Math.min(chunk.length - from, BATCH_BYTES - this.batchBytes);
      batch.set(chunk.subarray(from, from + n), this.batchBytes);
      this.batchBytes += n;
      from += n;
      if (this.batchBytes === BATCH_BYTES) this.flush();
    }
    if (this.pending <= WRITE_AHEAD_BYTES) return;
    return this.queue.then(() => {
      if (this.failure !== undefined) throw this.failure;
    });
  }

  /** One the hash worker gave back, or a new one. */
  private nextBatch(): Buffer {
    const reused = this.free.pop();
    return reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(BATCH_BYTES);
  }

  /** Queues the gathered batch as one write, then its hashing. */
  private flush(): void {
    const data = this.batch;
    const size = this.batchBytes;
    if (data === undefined || size === 0) return;
    this.batch = undefined;
    this.batchBytes = 0;
    this.queue = this.queue.then(async () => {
      if (this.failure !== undefined) return;
      try {
        let offset = 0;
        while (offset < size) offset += (await this.handle.write(data, offset, size - offset)).bytesWritten;
        (this.hash ??= new HashWorker((buffer) => this.free.push(buffer))).update(data.buffer as ArrayBuffer, size);
      } catch (err) {
        this.failure = err;
      } finally {
        this.pending -= size;
      }
    });
  }

  /**
   * Writes what is gathered, waits for queued writes, fsyncs and closes; `bytes` is final afterwards. Resolves with
   * the digest of everything written, or, when a child process wrote the file (takeFd), with `readBack()`'s,
   * run while the fsync is: the child has exited, so the bytes are final and the page cache serves them.
   */
  async finish(readBack: () => Promise<string>): Promise<string> {
    try {
      this.flush();
      await this.queue;
      if (this.failure !== undefined) throw this.failure;
      if (!this.direct) {
        await this.handle.sync();
        await this.handle.close();
        return this.hash ? await this.hash.digest() : createHash('sha256').digest('hex');
      }
      await this.stopWriteBack();
      if (this.failure !== undefined) throw this.failure;
      this.written = (await this.handle.stat()).size;
      // Both settle before the descriptor is closed, whichever fails.
      const [digest, synced] = await Promise.allSettled([readBack(), this.handle.sync()]);
      if (synced.status === 'rejected') throw synced.reason;
      if (digest.status === 'rejected') throw digest.reason;
      await this.handle.close();
      return digest.value;
    } finally {
      await this.hash?.close();
    }
  }

  /** Whether a child process wrote the file (takeFd): its digest was then read back, not taken as written. */
  get handedToChild(): boolean {
    return this.direct;
  }

  async abandon(): Promise<void> {
    this.batch = undefined;
    await this.stopWriteBack();
    await this.queue;
    await this.handle.close().catch(() => undefined);
    await this.hash?.close();
  }
}

/**
 * Copies a stream into a sink until the end or an abort. Event-driven rather than `for await`: a dump arrives
 * in tens of thousands of small pipe reads, and a promise per chunk kept the event loop busy; the stream is
 * paused only while the sink asks to wait (backpressure without buffering).
 */
export function pipeInto(source: Readable, sink: ByteSink, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', finish);
      signal.removeEventListener('abort', onAbort);
      if (err === undefined) return resolve();
      source.destroy();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const onData = (chunk: Buffer) => {
      let wait: Promise<void> | void;
      try {
        wait = sink.write(chunk);
      } catch (err) {
        return finish(err);
      }
      if (!wait) return;
      source.pause();
      wait.then(() => settled || source.resume(), finish);
    };
    const onEnd = () => finish();
    const onAbort = () => finish(new Error('cancelled'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    source.on('error', finish);
    source.on('end', onEnd);
    source.on('data', onData);
  });
}
