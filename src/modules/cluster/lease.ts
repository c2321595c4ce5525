import { performance } from 'node:perf_hooks';
import { LeaseLostError, type Lease } from '../../agent/kit/cluster.js';

/** What a held lease needs of Redis. */
export interface LeaseCommands {
  /** True when renewed, false when the lease is not this holder's any more; throws when Redis cannot be reached. */
  renew(name: string, value: string, ttlMs: number): Promise<boolean>;
  release(name: string, value: string): Promise<void>;
}

/**
 * The local deadline is this share of the TTL after the request that took or renewed the lease was sent.
 * Redis starts its expiry later than that, so the margin has only to cover the two clocks running at slightly
 * different rates, and a renewal that answers just in time.
 */
const DEADLINE_SHARE = 0.9;
/** Renewals a TTL: one failed renewal (a Redis blip) leaves two more tries before the deadline. */
const RENEWALS_PER_TTL = 3;

/**
 * A lease this node holds: renewed every third of its TTL; lost (signal aborted, `check` throws) when the
 * local deadline passes without a renewal, when Redis says another node holds it, or when released. The
 * deadline is measured on the monotonic clock, so a wall-clock jump cannot stretch it.
 */
export class HeldLease implements Lease {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private deadline: number;
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly deadlineTimer: NodeJS.Timeout;

  constructor(
    readonly name: string,
    readonly token: number,
    /** `<token> <node>`: what Redis holds under the lease's key. */
    readonly value: string,
    /** performance.now() just before the request that took the lease was sent. */
    sentAt: number,
    private readonly ttlMs: number,
    private readonly commands: LeaseCommands,
    private readonly onEnd: (lease: HeldLease, lost: string | undefined) => void,
  ) {
    this.signal = this.controller.signal;
    this.deadline = sentAt + ttlMs * DEADLINE_SHARE;
    this.deadlineTimer = setInterval(() => this.expireIfLate(), Math.max(50, Math.floor(ttlMs / 20)));
    this.deadlineTimer.unref();
    this.scheduleRenewal();
  }

  check(): void {
    this.expireIfLate();
    if (this.signal.aborted) throw this.signal.reason as Error;
  }

  async release(): Promise<void> {
    if (this.end(undefined)) await this.commands.release(this.name, this.value).catch(() => undefined);
  }

  /** Ends the lease as lost; Redis is told (compare-and-delete) so another node need not wait for the TTL. */
  lose(why: string): void {
    if (this.end(why)) void this.commands.release(this.name, this.value).catch(() => undefined);
  }

  private expireIfLate(): void {
    if (!this.signal.aborted && performance.now() >= this.deadline) this.lose('no renewal succeeded within the lease TTL');
  }

  private scheduleRenewal(): void {
    this.renewTimer = setTimeout(() => void this.renew(), Math.floor(this.ttlMs / RENEWALS_PER_TTL));
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    this.expireIfLate();
    if (this.signal.aborted) return;
    const sentAt = performance.now();
    let renewed: boolean;
    try {
      renewed = await this.commands.renew(this.name, this.value, this.ttlMs);
    } catch {
      // Redis unreachable for now: the next try, or the deadline, decides.
      if (!this.signal.aborted) this.scheduleRenewal();
      return;
    }
    if (this.signal.aborted) return;
    if (!renewed) return this.lose('another node holds it now');
    this.deadline = sentAt + this.ttlMs * DEADLINE_SHARE;
    this.scheduleRenewal();
  }

  /** True the first time: stops the timers, aborts the signal, tells the owner. */
  private end(lost: string | undefined): boolean {
    if (this.signal.aborted) return false;
    clearTimeout(this.renewTimer);
    clearInterval(this.deadlineTimer);
    this.controller.abort(new LeaseLostError(this.name, lost ?? 'released'));
    this.onEnd(this, lost);
    return true;
  }
}
