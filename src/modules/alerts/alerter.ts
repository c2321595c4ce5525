import { hostname } from 'node:os';
import { pingHeartbeat, urlOrigin } from '../../agent/kit/heartbeat.js';
import type { ConditionEvent, ConditionSeverity } from '../../agent/kit/conditions.js';
import type { ModuleContext, ModuleHealth, ModuleInstance, ScheduledTask } from '../../agent/kit/module.js';
import type { AlertsAnswer } from './answers.js';
import type { Channel } from './channels/channel.js';
import { createChannel } from './channels/index.js';
import type { AlertsConfig } from './config.js';
import { AlertEngine, compareKeys } from './engine.js';
import { watchHost } from './host-conditions.js';
import { RESULTS, type AlertsMetrics, type AlertsMetricsSource } from './metrics.js';
import { AlertsStateFile } from './state-file.js';

/** How often due repeats, closed grouping windows and due retries are looked at; `group: 0` does not wait for it. */
export const TICK_MS = 1_000;

/**
 * Changes not yet told are saved at most this often (a write is a serialisation and two fsyncs): what a kill
 * loses of them the reporting modules report again. What a channel is told is saved before every attempt.
 */
export const SAVE_EVERY_MS = 10_000;

interface HeartbeatPing {
  at: number;
  ok: boolean;
  error?: string;
}

export interface AlerterOptions {
  /** The clock, for tests. */
  now?: () => number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The alerts module instance: watches every module's conditions and tells the configured channels. */
export class Alerter implements ModuleInstance<AlertsConfig>, AlertsMetricsSource {
  private readonly engine: AlertEngine;
  private readonly file: AlertsStateFile;
  private readonly now: () => number;
  private config: AlertsConfig;
  private unsubscribe: (() => void) | undefined;
  private ticker: ScheduledTask | undefined;
  private heartbeatTask: ScheduledTask | undefined;
  private lastPing: HeartbeatPing | undefined;
  private hostWatch: { stop(): void } | undefined;
  private dirty = false;
  private savedAt = 0;
  private woken = false;
  /** Alerts taken back from the state file that no module has reported on in this process yet. */
  private readonly unconfirmed = new Set<string>();

  constructor(
    private readonly ctx: ModuleContext,
    config: AlertsConfig,
    private readonly metrics: AlertsMetrics,
    options: AlerterOptions = {},
  ) {
    this.config = config;
    this.now = options.now ?? Date.now;
    this.file = new AlertsStateFile(ctx.stateDir);
    this.engine = new AlertEngine(config, config.channels.map(createChannel), {
      now: this.now,
      host: hostname(),
      log: ctx.log,
      signal: ctx.signal,
      counted: (channel, result) => metrics.notifications.inc({ channel, result }),
      changed: () => {
        this.dirty = true;
      },
      beforeSend: () => this.save(),
      wake: () => this.wake(),
    });
  }

  async start(): Promise<void> {
    const loaded = await this.file.load();
    if (loaded.corrupt) this.ctx.log.warn({ problem: loaded.corrupt }, 'alerts state not usable; starting empty');
    if (loaded.snapshot) {
      this.engine.restore(loaded.snapshot);
      for (const event of loaded.snapshot.firing) this.unconfirmed.add(event.key);
    }
    this.zeroCounters(this.config);
    this.metrics.source.current = this;
    // Watch first, then take the snapshot: a change in between is seen twice, which the engine ignores.
    const handle = (event: ConditionEvent) => {
      this.unconfirmed.delete(event.key);
      this.engine.handle(event);
    };
    this.unsubscribe = this.ctx.conditionFeed.watch(handle);
    for (const event of this.ctx.conditionFeed.firing()) handle(event);
    this.ticker = this.ctx.schedule({ name: 'alerts', everyMs: TICK_MS, runAtStart: true }, () => this.tick());
    this.startHeartbeat();
    this.hostWatch = watchHost(this.ctx, this.config.host);
    this.ctx.log.info({ channels: this.config.channels.length, firing: this.engine.firing.size, queued: this.queuedTotal() }, 'alerts started');
  }

  /** Channels kept by name keep their state and queue; a channel whose settings changed is rebuilt. */
  async reload(next: AlertsConfig): Promise<void> {
    const previous = new Map(this.config.channels.map((c) => [c.name, JSON.stringify(c)]));
    const existing = new Map(this.engine.channelStates().map((s) => [s.channel.name, s.channel]));
    const channels = next.channels.map((c) => (previous.get(c.name) === JSON.stringify(c) ? existing.get(c.name)! : createChannel(c)));
    const dropped = this.engine.reconfigure(next, channels);
    for (const name of this.config.channels.map((c) => c.name)) {
      if (!next.channels.some((c) => c.name === name)) for (const result of RESULTS) this.metrics.notifications.remove({ channel: name, result });
    }
    this.zeroCounters(next);
    const heartbeatChanged = JSON.stringify(next.heartbeat) !== JSON.stringify(this.config.heartbeat);
    const hostChanged = JSON.stringify(next.host) !== JSON.stringify(this.config.host);
    this.config = next;
    if (hostChanged) {
      this.hostWatch?.stop();
      this.hostWatch = watchHost(this.ctx, next.host);
    }
    if (heartbeatChanged) {
      this.heartbeatTask?.cancel();
      this.lastPing = undefined;
      this.startHeartbeat();
    }
    void this.closeChannels(dropped);
    this.ctx.log.info({ channels: next.channels.length }, 'alerts reloaded');
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.hostWatch?.stop();
    if (this.metrics.source.current === this) this.metrics.source.current = undefined;
    await this.engine.settle();
    await this.save().catch((err: unknown) => this.ctx.log.error({ err: (err as Error).message }, 'alerts state not saved'));
    await this.closeChannels(this.engine.channelStates().map((s) => s.channel));
  }

  health(): ModuleHealth {
    const checks = this.engine.channelStates().map(({ channel, outbox }) => {
      const head = outbox.queue[0];
      const stuck = head !== undefined && head.attempts >= this.config.retry.attempts;
      return {
        name: channel.name,
        ok: !stuck,
        critical: false,
        ...(stuck ? { message: `${outbox.queue.length} message(s) undelivered after ${head.attempts} attempts: ${outbox.last?.error ?? 'unknown error'}` } : {}),
      };
    });
    const stuck = checks.filter((c) => !c.ok).map((c) => c.name);
    return stuck.length === 0 ? { status: 'ok', checks } : { status: 'degraded', message: `alerts undeliverable on: ${stuck.join(', ')}`, checks };
  }

  status(): AlertsAnswer {
    return this.view();
  }

  view(): AlertsAnswer {
    const heartbeat = this.config.heartbeat;
    return {
      firing: [...this.engine.firing.values()]
        .sort((a, b) => compareKeys(a.key, b.key))
        .map((e) => ({ key: e.key, module: e.module, item: e.item ?? null, severity: e.severity, summary: e.summary, detail: e.detail, startsAt: e.startsAt })),
      channels: this.engine.channelStates().map(({ channel, outbox, pending }) => ({
        name: channel.name,
        type: channel.type,
        target: channel.target,
        queued: outbox.queue.length,
        pending,
        lastDelivery: outbox.last ? { at: iso(outbox.last.at), result: outbox.last.result, attempts: outbox.last.attempts, error: outbox.last.error ?? null } : null,
        lastSuccessAt: outbox.lastSuccessAt === undefined ? null : iso(outbox.lastSuccessAt),
      })),
      heartbeat: heartbeat
        ? {
            target: urlOrigin(heartbeat.url),
            everyMs: heartbeat.every,
            lastPing: this.lastPing ? { at: iso(this.lastPing.at), ok: this.lastPing.ok, error: this.lastPing.error ?? null } : null,
          }
        : null,
    };
  }

  firingBySeverity(): Record<ConditionSeverity, number> {
    const counts = { warning: 0, critical: 0 };
    for (const event of this.engine.firing.values()) counts[event.severity]++;
    return counts;
  }

  queued(): Array<{ channel: string; messages: number }> {
    return this.engine.channelStates().map((s) => ({ channel: s.channel.name, messages: s.outbox.queue.length }));
  }

  /** Waits for deliveries in flight (tests). */
  settle(): Promise<void> {
    return this.engine.settle();
  }

  /** Does what is due now and persists what changed (the scheduled tick; tests call it with their clock). */
  async tick(): Promise<void> {
    this.endOrphans();
    this.engine.tick();
    if (this.now() - this.savedAt >= SAVE_EVERY_MS) await this.save();
  }

  /**
   * An alert open before a restart whose item (or module) was removed from the config while the agent was down:
   * nothing will ever report its end, so it ends here, once the agent has started every module.
   */
  private endOrphans(): void {
    for (const key of this.unconfirmed) {
      const event = this.engine.firing.get(key);
      const configured = event ? this.ctx.conditionFeed.stillConfigured(event) : true;
      if (configured === undefined) continue;
      this.unconfirmed.delete(key);
      if (!event || configured) continue;
      this.ctx.log.info({ condition: key, item: event.item, module: event.module }, 'alert ended: what it was about is no longer configured');
      this.engine.handle({ ...event, status: 'resolved', endsAt: iso(this.now()) });
    }
  }

  private wake(): void {
    if (this.woken) return;
    this.woken = true;
    // After the reporting module's synchronous burst, so one check that fires several conditions is one tick.
    queueMicrotask(() => {
      this.woken = false;
      if (!this.ctx.signal.aborted) void this.ticker?.runNow();
    });
  }

  private async save(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    this.savedAt = this.now();
    try {
      await this.file.save(() => this.engine.snapshot());
    } catch (err) {
      this.dirty = true;
      this.ctx.log.error({ err: (err as Error).message, path: this.file.path }, 'alerts state not saved; retrying at the next change');
    }
  }

  private startHeartbeat(): void {
    const heartbeat = this.config.heartbeat;
    if (!heartbeat) return;
    this.heartbeatTask = this.ctx.schedule({ name: 'heartbeat', everyMs: heartbeat.every, runAtStart: true }, async (signal) => {
      const result = await pingHeartbeat(heartbeat.url, 'beat', undefined, signal);
      if (signal.aborted) return;
      const failedBefore = this.lastPing !== undefined && !this.lastPing.ok;
      this.lastPing = { at: this.now(), ok: result.ok, ...(result.error === undefined ? {} : { error: result.error }) };
      if (!result.ok && !failedBefore) this.ctx.log.warn({ err: result.error }, 'agent heartbeat ping failed');
      else if (result.ok && failedBefore) this.ctx.log.info({ target: urlOrigin(heartbeat.url) }, 'agent heartbeat ping delivered again');
    });
  }

  private zeroCounters(config: AlertsConfig): void {
    for (const { name } of config.channels) for (const result of ['delivered', 'failed'] as const) this.metrics.notifications.inc({ channel: name, result }, 0);
  }

  private queuedTotal(): number {
    return this.engine.channelStates().reduce((sum, s) => sum + s.outbox.queue.length, 0);
  }

  private async closeChannels(channels: Channel[]): Promise<void> {
    await this.engine.settle();
    await Promise.all(channels.map((c) => c.close?.().catch((err: unknown) => this.ctx.log.warn({ channel: c.name, err: (err as Error).message }, 'channel did not close cleanly'))));
  }
}
