import type { Logger } from 'pino';
import { DeliveryError, type Channel, type Notification } from './channels/channel.js';

export interface RetryPolicy {
  min: number;
  max: number;
  /** Failed attempts after which the message is logged as undeliverable (it stays queued). */
  attempts: number;
}

/** A Retry-After longer than this is read as a mistake of the receiver: the message is tried again after it anyway. */
export const RETRY_AFTER_CAP_MS = 3_600_000;

/** Messages kept per channel while it cannot deliver; past it the oldest is dropped, logged and counted. */
export const QUEUE_LIMIT = 100;

/** How long to wait after the `attempts`-th failure: capped exponential backoff, never shorter than the receiver's Retry-After. */
export function retryDelay(policy: RetryPolicy, attempts: number, retryAfterMs?: number): number {
  const backoff = Math.min(policy.max, policy.min * 2 ** Math.min(attempts - 1, 30));
  return retryAfterMs === undefined ? backoff : Math.min(Math.max(backoff, retryAfterMs), RETRY_AFTER_CAP_MS);
}

export interface Outgoing {
  id: number;
  notification: Notification;
  /** Failed attempts so far. */
  attempts: number;
  /** Not before this time (epoch ms). */
  nextAt: number;
  createdAt: number;
}

export type DeliveryResult = 'delivered' | 'failed' | 'rejected' | 'dropped';

export interface LastDelivery {
  at: number;
  result: 'delivered' | 'failed' | 'rejected';
  attempts: number;
  error?: string;
}

export interface OutboxHooks {
  now(): number;
  log: Logger;
  signal: AbortSignal;
  counted(channel: string, result: DeliveryResult): void;
  /** Something that is persisted changed. */
  changed(): void;
  /** Persists the queue before an attempt starts, so a kill mid-send leaves the message queued, not lost. */
  beforeSend(): Promise<void>;
}

/**
 * One channel's queue: one attempt at a time, in order; a failed message stays at the head and is retried
 * with capped exponential backoff (or after Retry-After), however long it takes.
 */
export class Outbox {
  queue: Outgoing[] = [];
  last: LastDelivery | undefined;
  lastSuccessAt: number | undefined;
  private sending: Promise<void> | undefined;
  private nextId = 1;

  constructor(
    readonly name: string,
    private readonly hooks: OutboxHooks,
    private retry: RetryPolicy,
  ) {}

  restore(queue: Outgoing[], last: LastDelivery | undefined, lastSuccessAt: number | undefined): void {
    this.queue = queue;
    this.last = last;
    this.lastSuccessAt = lastSuccessAt;
    this.nextId = Math.max(0, ...queue.map((m) => m.id)) + 1;
  }

  setPolicy(retry: RetryPolicy): void {
    this.retry = retry;
  }

  push(notification: Notification): void {
    const now = this.hooks.now();
    this.queue.push({ id: this.nextId++, notification, attempts: 0, nextAt: now, createdAt: now });
    while (this.queue.length > QUEUE_LIMIT) {
      // The head may be in flight; the one after it is the oldest that can go.
      const dropped = this.queue.splice(this.sending ? 1 : 0, 1)[0]!;
      this.hooks.counted(this.name, 'dropped');
      this.hooks.log.error({ channel: this.name, queued: this.queue.length, createdAt: new Date(dropped.createdAt).toISOString() }, 'alert queue full: oldest undelivered message dropped');
    }
    this.hooks.changed();
  }

  get busy(): boolean {
    return this.sending !== undefined;
  }

  /** Ends when the attempt in flight (if any) has. */
  settled(): Promise<void> {
    return this.sending ?? Promise.resolve();
  }

  /** Starts the next attempt when the head is due and nothing is in flight. */
  dispatch(channel: Channel): void {
    const head = this.queue[0];
    if (this.sending || !head || head.nextAt > this.hooks.now() || this.hooks.signal.aborted) return;
    this.sending = this.attempt(channel, head).finally(() => {
      this.sending = undefined;
      this.dispatch(channel);
    });
  }

  private async attempt(channel: Channel, message: Outgoing): Promise<void> {
    const log = this.hooks.log;
    try {
      await this.hooks.beforeSend();
      await channel.send(message.notification, this.hooks.signal);
    } catch (err) {
      // A stop aborts the attempt: the message stays queued as it was, for the next start.
      if (this.hooks.signal.aborted) return;
      const failure = err instanceof DeliveryError ? err : new DeliveryError(`sending to ${channel.target} failed: ${(err as Error).message}`, true);
      const now = this.hooks.now();
      message.attempts++;
      message.nextAt = now + (failure.retryable ? retryDelay(this.retry, message.attempts, failure.retryAfterMs) : this.retry.max);
      const result = failure.retryable ? 'failed' : 'rejected';
      this.last = { at: now, result, attempts: message.attempts, error: failure.message };
      this.hooks.counted(this.name, result);
      const fields = { channel: this.name, target: channel.target, attempts: message.attempts, err: failure.message, retryAt: new Date(message.nextAt).toISOString() };
      if (message.attempts === this.retry.attempts) log.error(fields, 'alert undeliverable: kept queued and retried');
      else if (message.attempts === 1) log.warn(fields, failure.retryable ? 'alert delivery failed; retrying' : 'alert refused by the channel; retrying in case it is fixed');
      else log.debug(fields, 'alert delivery failed again');
      this.hooks.changed();
      return;
    }
    const now = this.hooks.now();
    if (this.queue[0] === message) this.queue.shift();
    else this.queue = this.queue.filter((m) => m !== message);
    this.last = { at: now, result: 'delivered', attempts: message.attempts + 1 };
    this.lastSuccessAt = now;
    this.hooks.counted(this.name, 'delivered');
    const fields = { channel: this.name, status: message.notification.status, alerts: message.notification.alerts.length, attempts: message.attempts + 1 };
    if (message.attempts >= this.retry.attempts) log.info(fields, 'alert delivered after all');
    else log.info(fields, 'alert delivered');
    this.hooks.changed();
  }
}
