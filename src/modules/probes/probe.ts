import type { Logger } from 'pino';
import type { HealthCheck, ModuleContext, ScheduledTask } from '../../agent/kit/module.js';
import { failure } from './classify.js';
import { createChecker, describeTarget } from './checkers.js';
import { CheckDeadline } from './deadline.js';
import type { ProbeConfig } from './config.js';
import { REASONS, type CheckOutcome, type Checker, type Kind, type Reason } from './kind.js';
import type { ProbeMetrics } from './metrics.js';
import { advance, INITIAL_STATE, type ProbeState, type ProbeStatus } from './state.js';

/** What `GET /probes/:name` answers. */
export interface ProbeView {
  name: string;
  kind: Kind;
  target: string;
  critical: boolean;
  intervalMs: number;
  timeoutMs: number;
  status: ProbeStatus;
  up: boolean;
  /** When the status last changed. */
  since: string;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** The latest check, null before the first one. */
  last: LastCheck | null;
  lastSuccessAt: string | null;
  nextCheckAt: string | null;
}

export interface LastCheck {
  ok: boolean;
  reason: Reason;
  message: string;
  /** Wall time of the check, including any time the agent's own event loop was late. */
  latencyMs: number;
  /** How much of latencyMs the agent's event loop was busy elsewhere; not counted against the timeout. */
  loopLateMs: number;
  at: string;
  details: Record<string, string | number | boolean | null>;
}

const TIMED_OUT = Symbol('timed out');
const STOPPED = Symbol('stopped');

/** One configured probe: its checker, its schedule, its state and its metric label sets. */
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
  private task: ScheduledTask | undefined;
  private inFlight: AbortController | undefined;
  private running: Promise<void> | undefined;
  private inherited = false;
  private stopped = false;

  constructor(
    readonly config: ProbeConfig,
    private readonly ctx: ModuleContext,
    private readonly metrics: ProbeMetrics,
  ) {
    this.name = config.name;
    this.kind = config.type;
    this.labels = { probe: config.name, kind: config.type };
    this.checker = createChecker(config);
    this.log = ctx.log.child({ probe: config.name });
  }

  get status(): ProbeStatus {
    return this.state.status;
  }

  /** Carries the state of the probe this one replaces (same name, edited config) so health does not flap. */
  inherit(previous: RunningProbe): void {
    this.inherited = true;
    this.state = previous.state;
    this.since = previous.since;
    this.last = previous.last;
    this.lastSuccessAt = previous.lastSuccessAt;
  }

  /** Sets the known label sets (0 unless inherited) and schedules the first check right away. */
  start(): void {
    this.metrics.up.set(this.labels, this.state.status === 'up' ? 1 : 0);
    // zero() would wipe the histogram a replaced probe of the same name and kind already filled.
    if (!this.inherited) this.metrics.duration.zero(this.labels);
    this.metrics.checks.inc({ ...this.labels, result: 'success', reason: 'ok' }, 0);
    for (const reason of REASONS) {
      if (reason !== 'ok') this.metrics.checks.inc({ ...this.labels, result: 'failure', reason }, 0);
    }
    this.task = this.ctx.schedule(
      { name: `probe:${this.name}`, everyMs: this.config.interval, runAtStart: true },
      (signal) => this.check(signal),
    );
  }

  /** Runs one check now, or waits for the one already running. */
  checkNow(): Promise<void> {
    return this.check(this.ctx.signal);
  }

  /** Cancels the schedule and any check in flight, waits for it to end and closes the connection; `removeMetrics` when the probe goes away. */
  async stop(options: { removeMetrics: boolean }): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.task?.cancel();
      this.inFlight?.abort(STOPPED);
      await this.running?.catch(() => undefined);
      await this.checker.close().catch((err: unknown) => this.log.warn({ err: failure(err).message }, 'closing probe connection failed'));
    }
    if (options.removeMetrics) this.removeMetrics();
  }

  private removeMetrics(): void {
    this.metrics.up.remove(this.labels);
    this.metrics.duration.remove(this.labels);
    this.metrics.checks.remove({ ...this.labels, result: 'success', reason: 'ok' });
    for (const reason of REASONS) this.metrics.checks.remove({ ...this.labels, result: 'failure', reason });
    this.metrics.series.delete(this.name);
  }

  /** Single flight: the schedule and checkNow() never run two checks on one connection at once. */
  private check(signal: AbortSignal): Promise<void> {
    this.running ??= this.runCheck(signal).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runCheck(signal: AbortSignal): Promise<void> {
    if (this.stopped || signal.aborted) return;
    const controller = new AbortController();
    this.inFlight = controller;
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
      this.inFlight = undefined;
    }
    if (controller.signal.aborted) {
      // A probe removed by a reload goes quietly; a stop is said once per probe that had a check in flight.
      if (controller.signal.reason === STOPPED && this.ctx.signal.aborted) this.log.info('check aborted: stopping');
      if (controller.signal.reason !== TIMED_OUT) return;
      outcome = { ok: false, reason: 'timeout', message: deadline.explain(`no answer within ${this.config.timeout} ms`) };
    } else if (outcome?.reason === 'timeout') {
      outcome = { ...outcome, message: deadline.explain(outcome.message) };
    }
    if (this.stopped || !outcome) return;
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
    if (this.state.status === 'up') this.log.info({ latencyMs: this.last.latencyMs }, 'probe up');
    else this.log.error({ reason: outcome.reason, message: outcome.message }, 'probe down');
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
    };
  }

  healthCheck(): HealthCheck {
    const up = this.state.status === 'up';
    const message =
      this.state.status === 'pending' ? 'not checked yet' : up ? `up (${this.last?.latencyMs ?? 0} ms)` : `down: ${this.last?.reason}: ${this.last?.message}`;
    return { name: this.name, ok: up, critical: this.config.critical, message };
  }
}
