import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from 'pino';

/** How often the heap is looked at; Go's runtime, which the exporters the agent replaces run on, forces a collection every 2 minutes. */
export const TRIM_PERIOD_MS = 60_000;
/** Heap beyond what was live after the last collection that is worth a collection: the larger of the two. */
const MIN_SLACK_BYTES = 4 * 1024 * 1024;
const MIN_SLACK_RATIO = 0.25;

export interface HeapNumbers {
  /** Bytes V8 holds for its heap (what counts in RSS). */
  total: number;
  /** Bytes of objects in it, live or not yet collected. */
  used: number;
}

function heapNumbers(): HeapNumbers {
  const stats = v8.getHeapStatistics();
  return { total: stats.total_heap_size, used: stats.used_heap_size };
}

let exposedGc: (() => void) | undefined;

/** A full, synchronous collection: `gc` of --expose-gc, turned on here when the process was not started with it. */
export function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  if (!exposedGc) {
    // The flag only decides whether a new context gets `gc`: a fresh one hands it over, ours stays as it was.
    v8.setFlagsFromString('--expose-gc');
    exposedGc = vm.runInNewContext('gc') as () => void;
  }
  return exposedGc;
}

/**
 * Gives back heap that V8 grew under a burst (a scrape storm, a big reload) and then kept: V8 shrinks
 * its heap only in a full collection, which an idle daemon seldom needs, so after a burst the agent
 * could stay 10 MiB larger for minutes. Once a period, when the heap holds more than a quarter (and at
 * least 4 MiB) beyond what was live after the last collection, it collects; a steady agent is left
 * alone. One collection of the agent's ~20 MiB heap stops the event loop for 20-50 ms.
 */
export class HeapTrimmer {
  private timer: NodeJS.Timeout | undefined;
  private liveAfterLast: number | undefined;

  constructor(
    private readonly log: Logger,
    private readonly collect: () => void = exposeGc(),
    private readonly read: () => HeapNumbers = heapNumbers,
  ) {}

  start(periodMs = TRIM_PERIOD_MS): void {
    this.stop();
    this.timer = setInterval(() => this.check(), periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Collects when the heap has grown past the last collection's live size; true when it did. */
  check(): boolean {
    const before = this.read();
    if (this.liveAfterLast !== undefined) {
      const slack = Math.max(MIN_SLACK_BYTES, this.liveAfterLast * MIN_SLACK_RATIO);
      if (before.total <= this.liveAfterLast + slack) return false;
    }
    const started = performance.now();
    this.collect();
    const after = this.read();
    this.liveAfterLast = after.used;
    this.log.debug(
      { heapBeforeBytes: before.total, heapAfterBytes: after.total, liveBytes: after.used, pauseMs: Math.round(performance.now() - started) },
      'heap trimmed',
    );
    return true;
  }
}
