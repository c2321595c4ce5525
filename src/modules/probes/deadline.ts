import { performance } from 'node:perf_hooks';
import { watchLoopDelay, type LoopDelayWindow } from '../../agent/kit/loop-delay.js';

/** However late the agent's loop runs, a check never gets more than this many times its timeout of wall time. */
const LATE_LOOP_ALLOWANCE = 2;

/**
 * One check's deadline, counted in time the agent could have listened: the wall time since the check began
 * minus the time the agent's own event loop ran late (a flood of admin requests, a long garbage collection).
 * An answer that sat in the socket while the loop was busy is not the server's delay. A server that never
 * answers is still reported: after `timeout` when the loop is idle, after `timeout × LATE_LOOP_ALLOWANCE`
 * at most when it is not.
 */
export class CheckDeadline {
  private readonly started = performance.now();
  private readonly loop: LoopDelayWindow = watchLoopDelay();
  private timer: NodeJS.Timeout;
  private endedAt: number | undefined;

  constructor(
    private readonly timeoutMs: number,
    onExpired: () => void,
  ) {
    const latest = this.started + timeoutMs * LATE_LOOP_ALLOWANCE;
    const expireOrWait = () => {
      const now = performance.now();
      const left = Math.min(timeoutMs - (now - this.started - this.loop.lateMs()), latest - now);
      if (left >= 1) this.timer = setTimeout(expireOrWait, left);
      else onExpired();
    };
    this.timer = setTimeout(expireOrWait, timeoutMs);
  }

  /** Milliseconds the agent's loop ran late since the check began. */
  lateMs(): number {
    return this.loop.lateMs();
  }

  /** Stops the clock; the numbers stay readable. */
  clear(): void {
    this.endedAt ??= performance.now();
    clearTimeout(this.timer);
    this.loop.close();
  }

  /**
   * Whether a timeout so far is the agent's doing: its loop was late by a tenth of the timeout or more, and
   * without that delay the check would still be within its timeout. (A hung server seen by an idle agent is not.)
   */
  agentCaused(): boolean {
    const late = this.lateMs();
    const elapsed = (this.endedAt ?? performance.now()) - this.started;
    return late >= this.timeoutMs / 10 && elapsed - late < this.timeoutMs;
  }

  /** A timeout's message, with the agent's own delay named when there was some (it was then not the only cause). */
  explain(message: string): string {
    const late = Math.round(this.lateMs());
    if (late === 0) return message;
    const elapsed = Math.round((this.endedAt ?? performance.now()) - this.started);
    return `${message} (${elapsed} ms elapsed, of which the agent's own event loop was ${late} ms late)`;
  }
}
