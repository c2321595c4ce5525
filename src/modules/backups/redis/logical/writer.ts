import type { Redis } from 'ioredis';
import { TypeCopyError } from './by-type.js';
import type { DumpedKey } from './scan.js';

/** Keys a request of RESTOREs may carry, and their payload bytes, before it is sent. */
const BATCH_KEYS = 500;
const BATCH_BYTES = 8 * 1024 * 1024;
/** Keys copied by type at once (each a few round trips): concurrent on one connection, so pipelined by ioredis. */
const TYPE_COPY_CONCURRENCY = 16;
/** Requests of RESTOREs sent and not yet answered while the next is gathered: the reading of the file overlaps the round trips. */
const REQUESTS_IN_FLIGHT = 4;
/** Failures kept with their key and cause for the report; the rest are counted. */
const KEEP_FAILURES = 20;

export interface WriteCounts {
  /** Written with RESTORE … ABSTTL. */
  restored: number;
  /** Written with the type's own commands (the target refused the payload, or it was over maxRequestBytes). */
  byType: number;
  /** Already on the target and left alone (no --replace). */
  existing: number;
  failed: number;
}

export interface WriterOptions {
  /** RESTORE … REPLACE, and a type copy that deletes the target key first; otherwise a key already there is counted and left alone. */
  replace: boolean;
  /** A payload over this goes by type (Upstash: 10 MB a request). */
  maxRequestBytes: number;
  /** Copies one key by type into the target; the writer has already decided the key may be written. */
  copyByType(entry: DumpedKey): Promise<void>;
  /** Sends RESTORE commands on the target's raw connection (raw.ts); each reply's error or undefined. */
  send(commands: Array<Array<Buffer | string | number>>): Promise<Array<Error | undefined>>;
}

export function describeKey(key: Buffer): string {
  const text = key.toString('utf8');
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

/** The target has no RESTORE at all: no use sending it for the keys that follow. */
function isMissingCommand(err: Error): boolean {
  return /unknown command/i.test(err.message);
}

/**
 * Writes dumped keys into a target: RESTORE key ttl payload [REPLACE] ABSTTL, pipelined; a key the target
 * refuses that way is copied by type. A key that fails both ways is counted and named in `failures`; a lost
 * connection ends the whole write.
 */
export class KeyWriter {
  readonly counts: WriteCounts = { restored: 0, byType: 0, existing: 0, failed: 0 };
  readonly failures: string[] = [];
  private restoreRefused = false;
  private batch: DumpedKey[] = [];
  private batchBytes = 0;
  private readonly inFlight: Array<Promise<void>> = [];

  constructor(
    private readonly target: Redis,
    private readonly options: WriterOptions,
  ) {}

  get written(): number {
    return this.counts.restored + this.counts.byType;
  }

  /** Takes a key; returns a promise only when the caller must wait (REQUESTS_IN_FLIGHT requests are out), as most keys need no wait. */
  add(entry: DumpedKey): Promise<void> | void {
    this.batch.push(entry);
    this.batchBytes += entry.payload.length + entry.key.length;
    if (this.batch.length >= BATCH_KEYS || this.batchBytes >= BATCH_BYTES) return this.send();
  }

  async addAll(entries: DumpedKey[]): Promise<void> {
    for (const entry of entries) {
      const wait = this.add(entry);
      if (wait) await wait;
    }
  }

  private fail(entry: DumpedKey, why: string): void {
    this.counts.failed++;
    if (this.failures.length < KEEP_FAILURES) this.failures.push(`key ${describeKey(entry.key)}: ${why}`);
  }

  /** Sends what is gathered, waiting for the oldest request when REQUESTS_IN_FLIGHT are out. */
  private send(): Promise<void> | void {
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (batch.length === 0) return;
    const request = this.write(batch);
    // Awaited in order; one failing while an earlier one is awaited is not an unhandled rejection.
    request.catch(() => undefined);
    this.inFlight.push(request);
    if (this.inFlight.length >= REQUESTS_IN_FLIGHT) return this.inFlight.shift();
  }

  /**
   * Sends what is gathered and resolves when every key so far is written, skipped or counted as failed: before
   * a SELECT, whose database the type copies still under way must not see.
   */
  async flush(): Promise<void> {
    await this.send();
    while (this.inFlight.length > 0) await this.inFlight.shift();
  }

  private async write(batch: DumpedKey[]): Promise<void> {
    const byType: Array<{ entry: DumpedKey; why?: string }> = [];
    const restorable: DumpedKey[] = [];
    for (const entry of batch) {
      if (this.restoreRefused || entry.payload.length + entry.key.length > this.options.maxRequestBytes) byType.push({ entry });
      else restorable.push(entry);
    }
    if (restorable.length > 0) {
      const commands = restorable.map(({ key, payload, expireAt }) => {
        const args: Array<string | number | Buffer> = ['RESTORE', key, expireAt ?? 0, payload];
        if (this.options.replace) args.push('REPLACE');
        if (expireAt !== undefined) args.push('ABSTTL');
        return args;
      });
      const errors = await this.options.send(commands);
      restorable.forEach((entry, i) => {
        const err = errors[i];
        if (!err) this.counts.restored++;
        else if (!isReplyError(err)) throw err;
        else if (/^BUSYKEY/.test(err.message)) this.counts.existing++;
        else {
          if (isMissingCommand(err)) this.restoreRefused = true;
          byType.push({ entry, why: err.message });
        }
      });
    }
    await this.copyAllByType(byType);
  }

  private async copyAllByType(items: Array<{ entry: DumpedKey; why?: string }>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const { entry, why } = items[next++]!;
        try {
          if (!this.options.replace && (await this.target.exists(entry.key)) > 0) {
            this.counts.existing++;
            continue;
          }
          await this.options.copyByType(entry);
          this.counts.byType++;
        } catch (err) {
          if (!isReplyError(err) && !(err instanceof TypeCopyError)) throw err;
          this.fail(entry, why ? `RESTORE: ${why}; by type: ${err.message}` : `by type: ${err.message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(TYPE_COPY_CONCURRENCY, items.length) }, worker));
  }
}

/** `1000 keys: 990 with RESTORE, 10 by type; 3 already there (left alone); 1 failed`, the parts that are not zero. */
export function describeCounts(counts: WriteCounts, verb = 'restored'): string {
  const written = counts.restored + counts.byType;
  const parts = [`${written} keys ${verb} (${counts.restored} with RESTORE, ${counts.byType} by type)`];
  if (counts.existing > 0) parts.push(`${counts.existing} already on the target, left alone`);
  if (counts.failed > 0) parts.push(`${counts.failed} failed`);
  return parts.join('; ');
}
