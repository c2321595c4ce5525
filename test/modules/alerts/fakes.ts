import pino from 'pino';
import type { ConditionEvent } from '../../../src/agent/kit/conditions.js';
import { DeliveryError, type Channel, type Notification } from '../../../src/modules/alerts/channels/channel.js';
import { AlertEngine, type EngineSettings } from '../../../src/modules/alerts/engine.js';
import type { DeliveryResult } from '../../../src/modules/alerts/outbox.js';

export const HOUR = 3_600_000;

export const SETTINGS: EngineSettings = {
  routes: undefined,
  group: 30_000,
  repeat: 4 * HOUR,
  repeatCritical: HOUR,
  rateLimit: { messages: 30, per: HOUR },
  retry: { min: 5_000, max: 300_000, attempts: 5 },
};

/** What the in-test channel does with one send: nothing (delivered) or throw. */
export type Behaviour = (notification: Notification) => void;

/** A Channel that records what it was sent; `behave` decides each attempt's outcome. */
export class RecordingChannel implements Channel {
  readonly type = 'test';
  readonly target = 'test://receiver';
  readonly sent: Notification[] = [];
  attempts = 0;
  behave: Behaviour = () => undefined;
  constructor(readonly name: string) {}
  async send(notification: Notification): Promise<void> {
    this.attempts++;
    this.behave(notification);
    this.sent.push(structuredClone(notification));
  }
}

export const retryable = (retryAfterMs?: number) => () => {
  throw new DeliveryError('test://receiver answered HTTP 503', true, retryAfterMs);
};

export interface EngineRig {
  engine: AlertEngine;
  clock: { now: number };
  channels: Record<string, RecordingChannel>;
  results: Array<[string, DeliveryResult]>;
  /** Sets the clock, ticks and waits for the deliveries it started. */
  at(ms: number): Promise<void>;
}

export function engineRig(names: string[] = ['ops'], settings: Partial<EngineSettings> = {}): EngineRig {
  const clock = { now: 0 };
  const channels = Object.fromEntries(names.map((n) => [n, new RecordingChannel(n)]));
  const results: EngineRig['results'] = [];
  const engine = new AlertEngine({ ...SETTINGS, ...settings }, Object.values(channels), {
    now: () => clock.now,
    host: 'test-host',
    log: pino({ level: 'silent' }),
    signal: new AbortController().signal,
    counted: (channel, result) => results.push([channel, result]),
    changed: () => undefined,
    beforeSend: async () => undefined,
    wake: () => undefined,
  });
  return {
    engine,
    clock,
    channels,
    results,
    async at(ms) {
      clock.now = ms;
      engine.tick();
      await engine.settle();
    },
  };
}

export function condition(key: string, over: Partial<ConditionEvent> = {}): ConditionEvent {
  return {
    key,
    severity: 'warning',
    summary: `${key} is wrong`,
    detail: 'because',
    item: key.split(':')[1],
    module: 'probes',
    status: 'firing',
    startsAt: new Date(0).toISOString(),
    ...over,
  };
}

export function resolved(key: string, over: Partial<ConditionEvent> = {}): ConditionEvent {
  // As the bus sends a first-seen resolve: no summary, a placeholder severity.
  return condition(key, { status: 'resolved', summary: '', severity: 'warning', endsAt: new Date(1).toISOString(), ...over });
}
