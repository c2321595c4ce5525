import { performance } from 'node:perf_hooks';

/** How often the loop is sampled while a window is open: fine enough to see one slow iteration. */
const SAMPLE_MS = 20;
/** Ordinary scheduling slack (a shared CPU, a short callback), not counted: only delay beyond it is. */
const SLACK_MS = 10;

/** One sampler for the whole process, running only while some window is open (an idle agent never wakes for it). */
let openWindows = 0;
let timer: NodeJS.Timeout | undefined;
let dueAt = 0;
/** Milliseconds the sampler's ticks have run late since the process started sampling. */
let lateTotal = 0;

function overdue(now: number): number {
  return Math.max(0, now - dueAt - SLACK_MS);
}

function arm(now: number): void {
  dueAt = now + SAMPLE_MS;
  timer = setTimeout(tick, SAMPLE_MS);
  timer.unref();
}

function tick(): void {
  const now = performance.now();
  lateTotal += overdue(now);
  arm(now);
}

export interface LoopDelayWindow {
  /**
   * Milliseconds this process's event loop ran late since the window opened: time in which no timer, socket
   * or promise callback of anyone's could run, because the loop was busy elsewhere (a flood of requests, a
   * garbage collection, a starved CPU). Frozen at close().
   */
  lateMs(): number;
  close(): void;
}

/**
 * Opens a window that answers "was the loop late during my work?", so a timeout can tell a server that did
 * not answer from an agent that could not listen. Close it when the work ends.
 */
export function watchLoopDelay(): LoopDelayWindow {
  const now = performance.now();
  if (openWindows++ === 0) arm(now);
  // Lateness already pending when the window opens belongs to the time before it.
  const start = lateTotal + overdue(now);
  let frozen: number | undefined;
  const read = () => lateTotal + overdue(performance.now()) - start;
  return {
    lateMs: () => frozen ?? read(),
    close() {
      if (frozen !== undefined) return;
      frozen = read();
      if (--openWindows === 0) {
        clearTimeout(timer);
        timer = undefined;
      }
    },
  };
}
