import type { Logger } from 'pino';
import type { z } from 'zod';
import type { ConditionReporter } from '../../agent/kit/conditions.js';
import type { ItemHandle, LabelSet } from '../../agent/kit/item-set.js';
import type { HealthCheck, ScheduledTask } from '../../agent/kit/module.js';
import type { lastCheck, probeView } from './answers.js';
import { failure } from './classify.js';
import { createChecker, describeTarget } from './kinds/table.js';
import { CheckDeadline } from './deadline.js';
import type { ProbeConfig } from './config.js';
import { REASONS, type CheckOutcome, type Checker, type Kind } from './kinds/kind.js';
import { LatencyRing, ringCapacity } from './latency-ring.js';
import type { ProbesMetrics } from './metrics.js';
import { advance, INITIAL_STATE, type ProbeState, type ProbeStatus } from './state.js';

/** What `GET /probes/:name` answers. */
export type ProbeView = z.infer<typeof probeView>;

export type LastCheck = z.infer<typeof lastCheck>;

const TIMED_OUT = Symbol('timed out');
const STOPPED = Symbol('stopped');

/** The label sets a probe owns while it is configured; the checks counter has one per result and reason. */
export function itemLabelSets(metrics: ProbesMetrics, probe: Pick<ProbeConfig, 'name' | 'type'>): LabelSet[] {
  const labels = { probe: probe.name, kind: probe.type };
  return [
    // Set from the probe's state when it starts, not zeroed: an edited probe that was up stays up.
    { metric: metrics.up, labels },
    { metric: metrics.duration, labels, zero: true },
    { metric: metrics.checks, labels: { ...labels, result: 'success', reason: 'ok' }, zero: true },
    ...REASONS.filter((r) => r !== 'ok').map((reason) => ({ metric: metrics.checks, labels: { ...labels, result: 'failure', reason }, zero: true })),
  ];
}

/** One configured probe: its checker, its schedule and its state. */
export class RunningProbe {
  readonly name: string;
  private readonly kind: Kind;
  private readonly checker: Checker;
  private readonly log: Logger;
  private readonly labels: { probe: string; kind: Kind };
  private state: ProbeState = INITIAL_STATE;
  private since = new Date();
  private last: LastCheck | null = null;
  private lastSuccessAt: string | null = null;
  private readonly recent: LatencyRing;
  private task: ScheduledTask | undefined;

  /** `previous`: the probe of the same name and kind this one replaces; its state carries over. */
  constructor(
    readonly config: ProbeConfig,
    handle: ItemHandle,
    private readonly metrics: ProbesMetrics,
    private readonly conditions: ConditionReporter,
    previous?: RunningProbe,
  ) {
    this.name = config.name;
    this.kind = config.type;
    this.labels = { probe: config.name, kind: config.type };
    this.checker = createChecker(config);
    this.log = handle.log;
    this.recent = new LatencyRing(ringCapacity(config.interval));
    if (previous) {
      for (const latency of previous.recent.list()) this.recent.push(latency);
      this.state = previous.state;
      this.since = previous.since;
      this.last = previous.last;
      this.lastSuccessAt = previous.lastSuccessAt;
    }
  }

  get status(): ProbeStatus {
    return this.state.status;
  }

  /** `task` runs the checks (the first one right away); up is set from the state, carried over or pending. */
  start(task: ScheduledTask): void {
    this.task = task;
    this.metrics.up.set(this.labels, this.state.status === 'up' ? 1 : 0);
  }

  /** After its last check: closes the connection and drops the kind series. */
  async close(): Promise<void> {
    await this.checker.close().catch((err: unknown) => this.log.warn({ err: failure(err).message }, 'closing probe connection failed'));
    this.metrics.series.delete(this.name);
  }

  /** One check; the item set never runs two at once on one connection. */
  async check(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const controller = new AbortController();
    // The deadline lives and dies with this one check, so it is its own timer rather than a schedule.
    const deadline = new CheckDeadline(this.config.timeout, () => controller.abort(TIMED_OUT));
    const onStop = () => controller.abort(STOPPED);
    signal.addEventListener('abort', onStop, { once: true });
    const started = performance.now();
    let outcome: CheckOutcome | undefined;
    try {
      const aborted = new Promise<undefined>((resolve) => controller.signal.addEventListener('abort', () => resolve(undefined), { once: true }));
      const attempt = () => Promise.race([this.checker.check(controller.signal).catch((err: unknown) => failure(err)), aborted]);
      outcome = await attempt();
      // A kind's own connect or command timer counts wall time; when the agent's loop ate the time it
      // measured, the check is tried once more within what the deadline still allows.
      if (outcome?.reason === 'timeout' && deadline.agentCaused()) outcome = await attempt();
    } finally {
      deadline.clear();
      signal.removeEventListener('abort', onStop);
    }
    if (controller.signal.aborted) {
      if (controller.signal.reason !== TIMED_OUT) return;
      outcome = { ok: false, reason: 'timeout', message: deadline.explain(`no answer within ${this.config.timeout} ms`) };
    } else if (outcome?.reason === 'timeout') {
      outcome = { ...outcome, message: deadline.explain(outcome.message) };
    }
    // A probe removed meanwhile records nothing, so its label sets stay gone.
    if (signal.aborted || !outcome) return;
    this.record(outcome, performance.now() - started, deadline.lateMs());
  }

  private record(outcome: CheckOutcome, durationMs: number, loopLateMs: number): void {
    const at = new Date();
    const rounded = (ms: number) => Math.round(ms * 1000) / 1000;
    this.last = {
      ok: outcome.ok,
      reason: outcome.reason,
      message: outcome.message,
      latencyMs: rounded(durationMs),
      loopLateMs: rounded(loopLateMs),
      at: at.toISOString(),
      details: outcome.details ?? {},
    };
    if (outcome.ok) this.lastSuccessAt = this.last.at;
    this.recent.push(outcome.ok ? this.last.latencyMs : null);
    this.metrics.duration.observe(this.labels, durationMs / 1000);
    this.metrics.checks.inc({ ...this.labels, result: outcome.ok ? 'success' : 'failure', reason: outcome.reason });
    // Kind numbers describe a server that answered; a failed check leaves none rather than stale ones.
    if (outcome.ok && outcome.series) this.metrics.series.set(this.name, outcome.series);
    else this.metrics.series.delete(this.name);

    const previous = this.state.status;
    this.state = advance(this.state, outcome.ok, this.config);
    this.metrics.up.set(this.labels, this.state.status === 'up' ? 1 : 0);
    this.log.debug({ ok: outcome.ok, reason: outcome.reason, latencyMs: this.last.latencyMs, loopLateMs: this.last.loopLateMs }, 'probe checked');
    if (this.state.status === previous) return;
    this.since = at;
    if (this.state.status === 'up') {
      this.log.info({ latencyMs: this.last.latencyMs }, 'probe up');
      this.conditions.resolve(this.downKey);
    } else {
      this.log.error({ reason: outcome.reason, message: outcome.message }, 'probe down');
      this.conditions.fire({
        key: this.downKey,
        severity: this.config.critical ? 'critical' : 'warning',
        summary: `${this.name} is down`,
        detail: `${describeTarget(this.config)}: ${outcome.reason}: ${outcome.message}`,
        item: this.name,
      });
    }
  }

  private get downKey(): string {
    return `probe:${this.name}:down`;
  }

  view(): ProbeView {
    return {
      name: this.name,
      kind: this.kind,
      target: describeTarget(this.config),
      critical: this.config.critical,
      intervalMs: this.config.interval,
      timeoutMs: this.config.timeout,
      status: this.state.status,
      up: this.state.status === 'up',
      since: this.since.toISOString(),
      consecutiveFailures: this.state.consecutiveFailures,
      consecutiveSuccesses: this.state.consecutiveSuccesses,
      last: this.last,
      lastSuccessAt: this.lastSuccessAt,
      nextCheckAt: this.task?.nextRun()?.toISOString() ?? null,
      recentLatencyMs: this.recent.list(),
    };
  }

  healthCheck(): HealthCheck {
    const up = this.state.status === 'up';
    const message =
      this.state.status === 'pending' ? 'not checked yet' : up ? `up (${this.last?.latencyMs ?? 0} ms)` : `down: ${this.last?.reason}: ${this.last?.message}`;
    return { name: this.name, ok: up, critical: this.config.critical, message };
  }
}
