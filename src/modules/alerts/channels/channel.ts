import { duration, itemName } from '../../../agent/kit/schema.js';

/** One condition as a channel shows it. */
export interface AlertLine {
  key: string;
  module: string;
  item?: string;
  severity: 'warning' | 'critical';
  summary: string;
  detail: string;
  status: 'firing' | 'resolved';
  startsAt: string;
  endsAt?: string;
}

/** One message: the changes a grouping window collected for one channel. */
export interface Notification {
  status: 'firing' | 'resolved';
  alerts: AlertLine[];
  /** The agent's host name, so a person with many servers knows which one speaks. */
  host: string;
  /** Sent by `caretaker alerts test`: says so in the message. */
  test?: boolean;
}

export interface Channel {
  readonly name: string;
  readonly type: string;
  /** scheme://host only: what logs and answers may show */
  readonly target: string;
  /** One attempt, bounded by the channel's timeout; throws DeliveryError. Retries are the caller's. */
  send(notification: Notification, signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

/**
 * A delivery that did not happen. `retryable`: the same message may succeed later (network, timeout,
 * 5xx, 429); otherwise the receiver refused it for good (bad token, unknown chat, bad config). The
 * message names the channel's target (scheme://host) and never a token, URL path or password.
 */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** Keys every channel has. */
export const commonChannelFields = {
  name: itemName().meta({ description: 'the channel name that routes refer to; shown in logs, metrics and `caretaker alerts`' }),
  timeout: duration({ min: '1s', max: '5m' })
    .default(10_000)
    .meta({ description: 'bound on one delivery attempt, connect to answer (default 10s); a timeout is retried' }),
};
