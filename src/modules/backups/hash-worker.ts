import { Worker } from 'node:worker_threads';

/**
 * sha256 off the event loop. A backup streams about a gigabyte a minute through the agent; hashing it on the
 * main thread took about a second of every four, which the admin API and /metrics waited behind. The worker
 * hashes buffers handed over (transferred, not copied) in order, or reads a file itself.
 *
 * The worker's code is inline JavaScript so it runs the same from the TypeScript sources (tsx) and the build.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { readSync } = require('node:fs');
let hash = createHash('sha256');
let buffer;
parentPort.on('message', (message) => {
  if (message.type === 'update') {
    hash.update(new Uint8Array(message.data, 0, message.length));
    parentPort.postMessage({ returned: message.data }, [message.data]);
  }
  else if (message.type === 'digest') {
    parentPort.postMessage({ id: message.id, digest: hash.digest('hex') });
    hash = createHash('sha256');
  } else if (message.type === 'file') {
    // One buffer read into again and again: a read stream's fresh chunk per read grew the heap by tens of MB
    // before the GC caught up. The parent owns the descriptor, so a terminated worker leaks none.
    buffer ??= Buffer.allocUnsafeSlow(1 << 20);
    const fileHash = createHash('sha256');
    try {
      for (let n; (n = readSync(message.fd, buffer, 0, buffer.length, null)) > 0; ) fileHash.update(buffer.subarray(0, n));
      parentPort.postMessage({ id: message.id, digest: fileHash.digest('hex') });
    } catch (err) {
      parentPort.postMessage({ id: message.id, error: err.message, code: err.code });
    }
  }
});
`;

type Reply = { id: number; digest?: string; error?: string; code?: string } | { returned: ArrayBuffer };

export class HashWorker {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (digest: string) => void; reject: (err: Error) => void }>();
  private failure: Error | undefined;

  /** `onReturned` gets each buffer given to update() back once it is hashed, to be filled again. */
  constructor(private readonly onReturned: (buffer: ArrayBuffer) => void = () => undefined) {
    this.worker.on('message', (reply: Reply) => {
      if ('returned' in reply) return this.onReturned(reply.returned);
      const pending = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.digest !== undefined) pending?.resolve(reply.digest);
      else pending?.reject(Object.assign(new Error(reply.error ?? 'hashing failed'), { code: reply.code }));
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', () => this.fail(new Error('hash worker exited')));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const pending of this.waiting.values()) pending.reject(err);
    this.waiting.clear();
  }

  /**
   * Adds the first `length` bytes of `buffer` to the running digest. The buffer is transferred, and handed to
   * `onReturned` once hashed: the caller must not touch it in between.
   */
  update(buffer: ArrayBuffer, length: number): void {
    if (this.failure) throw this.failure;
    this.worker.postMessage({ type: 'update', data: buffer, length }, [buffer]);
  }

  /** The digest of everything added since the last digest(). */
  digest(): Promise<string> {
    return this.request({ type: 'digest' });
  }

  /** sha256 of what is left to read from an open file, read and hashed in the worker; the caller closes `fd`. */
  file(fd: number): Promise<string> {
    return this.request({ type: 'file', fd });
  }

  private request(message: Record<string, unknown>): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  async close(): Promise<void> {
    this.failure ??= new Error('hash worker closed');
    await this.worker.terminate();
  }
}
