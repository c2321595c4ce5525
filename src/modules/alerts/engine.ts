import type { Logger } from 'pino';
import type { ConditionEvent, ConditionSeverity } from '../../agent/kit/conditions.js';
import type { AlertLine, Channel, Notification } from './channels/channel.js';
import type { AlertsConfig } from './config.js';
import { Outbox, type DeliveryResult, type LastDelivery, type Outgoing } from './outbox.js';
import { routeChannels } from './routing.js';

export type EngineSettings = Pick<AlertsConfig, 'routes' | 'group' | 'repeat' | 'repeatCritical' | 'rateLimit' | 'retry'>;

/** What a channel was last told about a firing condition, and when. */
export interface Told {
  line: AlertLine;
  sentAt: number;
}

/** One channel's persisted state (state-file.ts). */
export interface ChannelSnapshot {
  told: Told[];
  pending: AlertLine[];
  windowSince: number | null;
  queue: Outgoing[];
  /** When each message of the rate-limit window was built. */
  built: number[];
  last: LastDelivery | null;
  lastSuccessAt: number | null;
}

export interface EngineSnapshot {
  firing: ConditionEvent[];
  channels: Record<string, ChannelSnapshot>;
}

export interface EngineHooks {
  now(): number;
  host: string;
  log: Logger;
  signal: AbortSignal;
  counted(channel: string, result: DeliveryResult): void;
  changed(): void;
  beforeSend(): Promise<void>;
  /** The engine has something to send now (group: 0): tick soon rather than at the next interval. */
  wake(): void;
}

class ChannelState {
  /** Conditions this channel's messages said are firing: a repeat of the same is not news. */
  readonly told = new Map<string, Told>();
  /** Changes waiting for the grouping window to close. */
  readonly pending = new Map<string, AlertLine>();
  windowSince: number | undefined;
  built: number[] = [];
  limited = false;
  readonly outbox: Outbox;

  constructor(
    public channel: Channel,
    hooks: EngineHooks,
    settings: EngineSettings,
  ) {
    this.outbox = new Outbox(channel.name, hooks, settings.retry);
  }
}

function lineOf(event: ConditionEvent): AlertLine {
  const line: AlertLine = {
    key: event.key,
    module: event.module,
    severity: event.severity,
    summary: event.summary,
    detail: event.detail,
    status: 'firing',
    startsAt: event.startsAt,
  };
  if (event.item !== undefined) line.item = event.item;
  return line;
}

/** Keys in code-unit order: localeCompare would load ICU's collation data for good (+3.4 MiB of RSS). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byStatusThenKey(a: AlertLine, b: AlertLine): number {
  return a.status === b.status ? compareKeys(a.key, b.key) : a.status === 'firing' ? -1 : 1;
}

/**
 * Turns condition changes into messages, per channel: a condition is told when it starts firing (or its
 * severity or summary change), again every `repeat` while it fires, and once when it resolves; changes
 * within the grouping window go out as one message; the rate limit holds changes back and merges them.
 * Time comes from `hooks.now`, so tests drive it; `tick()` does what is due.
 */
export class AlertEngine {
  /** What fires now, as far as this module knows: kept across restarts until the reporting module resolves it. */
  readonly firing = new Map<string, ConditionEvent>();
  private readonly channels = new Map<string, ChannelState>();

  constructor(
    private settings: EngineSettings,
    channels: readonly Channel[],
    private readonly hooks: EngineHooks,
  ) {
    for (const channel of channels) this.channels.set(channel.name, new ChannelState(channel, hooks, settings));
  }

  /** Applies a reloaded config: channels kept by name keep what they were told and their queue. Returns the channels dropped. */
  reconfigure(settings: EngineSettings, channels: readonly Channel[]): Channel[] {
    this.settings = settings;
    const next = new Map(channels.map((c) => [c.name, c]));
    const dropped: Channel[] = [];
    for (const [name, state] of this.channels) {
      const channel = next.get(name);
      if (channel) {
        if (channel !== state.channel) dropped.push(state.channel);
        state.channel = channel;
        state.outbox.setPolicy(settings.retry);
        continue;
      }
      dropped.push(state.channel);
      if (state.outbox.queue.length > 0) this.hooks.log.warn({ channel: name, queued: state.outbox.queue.length }, 'channel removed from the config: its undelivered messages are dropped');
      this.channels.delete(name);
    }
    for (const channel of channels) if (!this.channels.has(channel.name)) this.channels.set(channel.name, new ChannelState(channel, this.hooks, settings));
    // A new channel, or a route that now sends a condition somewhere new: the bus will not report what already fires again.
    for (const event of this.firing.values()) {
      const routed = this.routed(event);
      for (const [name, state] of this.channels) if (routed.has(name) && !state.told.has(event.key) && !state.pending.has(event.key)) this.queueLine(state, lineOf(event));
    }
    this.hooks.changed();
    return dropped;
  }

  handle(event: ConditionEvent): void {
    if (event.status === 'firing') this.fire(event);
    else this.resolve(event);
  }

  private fire(event: ConditionEvent): void {
    this.firing.set(event.key, event);
    const routed = this.routed(event);
    for (const [name, state] of this.channels) {
      if (!routed.has(name)) continue;
      const told = state.told.get(event.key);
      if (told && told.line.severity === event.severity && told.line.summary === event.summary) {
        // Back to what the channel already knows (a resolve that flapped back within the window): nothing to say.
        state.pending.delete(event.key);
        continue;
      }
      this.queueLine(state, lineOf(event));
    }
    this.hooks.changed();
  }

  private resolve(event: ConditionEvent): void {
    const known = this.firing.get(event.key);
    this.firing.delete(event.key);
    const endsAt = event.endsAt ?? new Date(this.hooks.now()).toISOString();
    let touched = known !== undefined;
    for (const state of this.channels.values()) {
      const told = state.told.get(event.key);
      if (told) {
        this.queueLine(state, { ...told.line, status: 'resolved', endsAt });
        touched = true;
      } else if (state.pending.delete(event.key)) {
        // Fired and resolved within the window: the channel never heard of it, and need not.
        touched = true;
      }
    }
    if (touched) this.hooks.changed();
  }

  private queueLine(state: ChannelState, line: AlertLine): void {
    state.pending.set(line.key, line);
    state.windowSince ??= this.hooks.now();
    if (this.settings.group === 0) this.hooks.wake();
  }

  private routed(condition: { severity: ConditionSeverity; module: string }): Set<string> {
    return routeChannels(this.settings.routes, [...this.channels.keys()], condition);
  }

  private repeatAfter(severity: ConditionSeverity): number {
    return severity === 'critical' ? this.settings.repeatCritical : this.settings.repeat;
  }

  /** Queues repeats that are due, closes grouping windows into messages and starts due deliveries. */
  tick(): void {
    const now = this.hooks.now();
    for (const state of this.channels.values()) {
      this.queueRepeats(state, now);
      if (state.windowSince !== undefined && now - state.windowSince >= this.settings.group) this.build(state, now);
      state.outbox.dispatch(state.channel);
    }
  }

  private queueRepeats(state: ChannelState, now: number): void {
    // A channel that has not delivered its last message yet would only queue the same news twice.
    if (state.outbox.queue.length > 0) return;
    for (const [key, told] of state.told) {
      if (state.pending.has(key) || now - told.sentAt < this.repeatAfter(told.line.severity)) continue;
      const current = this.firing.get(key);
      if (current && !this.routed(current).has(state.channel.name)) continue;
      this.queueLine(state, current ? lineOf(current) : told.line);
    }
  }

  private build(state: ChannelState, now: number): void {
    if (state.pending.size === 0) {
      // Everything in the window cancelled out (fired and resolved, or flapped back).
      state.windowSince = undefined;
      return;
    }
    const { messages, per } = this.settings.rateLimit;
    state.built = state.built.filter((at) => now - at < per);
    if (state.built.length >= messages) {
      if (!state.limited) this.hooks.log.warn({ channel: state.channel.name, messages, perMs: per, waiting: state.pending.size }, 'alert rate limit reached: changes wait and go out together');
      state.limited = true;
      return;
    }
    state.limited = false;
    const alerts = [...state.pending.values()].sort(byStatusThenKey);
    state.pending.clear();
    state.windowSince = undefined;
    for (const line of alerts) {
      if (line.status === 'firing') state.told.set(line.key, { line, sentAt: now });
      else state.told.delete(line.key);
    }
    state.built.push(now);
    const notification: Notification = { status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved', alerts, host: this.hooks.host };
    state.outbox.push(notification);
  }

  /** Ends when no delivery is in flight (for stop and for tests). */
  async settle(): Promise<void> {
    await Promise.all([...this.channels.values()].map((s) => s.outbox.settled()));
  }

  channelStates(): Array<{ channel: Channel; outbox: Outbox; pending: number; told: number }> {
    return [...this.channels.values()].map((s) => ({ channel: s.channel, outbox: s.outbox, pending: s.pending.size, told: s.told.size }));
  }

  snapshot(): EngineSnapshot {
    const channels: Record<string, ChannelSnapshot> = {};
    for (const [name, s] of this.channels) {
      channels[name] = {
        told: [...s.told.values()],
        pending: [...s.pending.values()],
        windowSince: s.windowSince ?? null,
        queue: s.outbox.queue,
        built: s.built,
        last: s.outbox.last ?? null,
        lastSuccessAt: s.outbox.lastSuccessAt ?? null,
      };
    }
    return { firing: [...this.firing.values()], channels };
  }

  /** Takes back a persisted state; channels no longer configured are left out. */
  restore(snapshot: EngineSnapshot): void {
    for (const event of snapshot.firing) this.firing.set(event.key, event);
    for (const [name, saved] of Object.entries(snapshot.channels)) {
      const state = this.channels.get(name);
      if (!state) continue;
      for (const told of saved.told) state.told.set(told.line.key, told);
      for (const line of saved.pending) state.pending.set(line.key, line);
      state.windowSince = saved.windowSince ?? undefined;
      state.built = saved.built;
      state.outbox.restore(saved.queue, saved.last ?? undefined, saved.lastSuccessAt ?? undefined);
    }
  }
}
