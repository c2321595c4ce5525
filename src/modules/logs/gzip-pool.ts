import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Scheduling niceness of the compression threads: under CPU contention the event loop wins. */
export const COMPRESS_NICE = 10;

// Plain JS evaluated in each worker (no build step, works the same from src under tsx and from dist).
// The worker renices its own thread (Linux: setpriority on a thread id affects only that thread),
// reads its block from the shared fd itself and compresses it with zlib's synchronous API: the
// event loop neither does the CPU work nor allocates the input buffers (whose external memory
// would trigger full garbage collections on the main heap), and libuv's threadpool stays free for
// the file I/O of the rest of the agent.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { gzipSync } = require('node:zlib');
const { readlinkSync, readSync } = require('node:fs');
const { setPriority } = require('node:os');
try { setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), ${COMPRESS_NICE}); } catch {}
let input = Buffer.alloc(0);
parentPort.on('message', ({ id, fd, position, length, level }) => {
  try {
    if (input.length < length) input = Buffer.allocUnsafeSlow(length);
    let read = 0;
    while (read < length) {
      const n = readSync(fd, input, read, length - read, position + read);
      if (n === 0) break;
      read += n;
    }
    const member = new Uint8Array(gzipSync(input.subarray(0, read), { level }));
    parentPort.postMessage({ id, read, member }, [member.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

interface Reply {
  id: number;
  read?: number;
  member?: Uint8Array;
  error?: string;
}

export interface Member {
  /** Input bytes the worker read (less than asked only at end of file). */
  read: number;
  member: Buffer;
}

/** A few low-priority worker threads that gzip blocks into independent gzip members. */
export class GzipPool {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve(member: Member): void; reject(err: Error): void }>();
  private nextId = 0;
  private closed = false;

  constructor(size = Math.max(1, Math.min(4, availableParallelism()))) {
    this.workers = Array.from({ length: size }, () => {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.on('message', (reply: Reply) => this.settle(reply));
      worker.on('error', (err) => this.failAll(err));
      return worker;
    });
  }

  get size(): number {
    return this.workers.length;
  }

  /** Reads `length` bytes at `position` of the open file `fd` and gzips them into one member. */
  gzip(fd: number, position: number, length: number, level: number): Promise<Member> {
    if (this.closed) return Promise.reject(new Error('compression pool closed'));
    const id = this.nextId++;
    const promise = new Promise<Member>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.workers[id % this.workers.length]!.postMessage({ id, fd, position, length, level });
    return promise;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error('compression cancelled'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private settle(reply: Reply): void {
    const waiter = this.waiting.get(reply.id);
    if (!waiter) return;
    this.waiting.delete(reply.id);
    if (reply.error !== undefined || reply.member === undefined) waiter.reject(new Error(`gzip failed: ${reply.error}`));
    else waiter.resolve({ read: reply.read ?? 0, member: Buffer.from(reply.member.buffer, reply.member.byteOffset, reply.member.byteLength) });
  }

  private failAll(err: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }
}
