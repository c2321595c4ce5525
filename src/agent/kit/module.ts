import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { healthCheck, moduleHealth } from './answers.js';
import type { CliCommand } from './cli.js';
import type { ClusterLink, ClusterProvider } from './cluster.js';
import type { DoctorContext, DoctorLine } from './doctor.js';
import type { ConditionFeed, ConditionReporter } from './conditions.js';
import type { ConflictReporter } from './conflicts.js';
import type { MetricsRegistrar } from './metrics.js';

/** What a module reports about itself; computed from cached state, never with I/O. `critical` checks decide `/health/deep`. */
export type ModuleHealth = z.infer<typeof moduleHealth>;

export type HealthCheck = z.infer<typeof healthCheck>;

/** A schedule owned by a module: cron (node-cron syntax) or a fixed interval. */
export type ScheduleSpec =
  | { name: string; cron: string; timezone?: string; jitterMs?: number }
  | { name: string; everyMs: number; jitterMs?: number; runAtStart?: boolean };

export interface ScheduledTask {
  readonly name: string;
  /** Next planned run, or null once cancelled. */
  nextRun(): Date | null;
  /** Runs the task now; when a run is in progress, counts a skip, waits for that run and resolves with false. */
  runNow(): Promise<boolean>;
  /** Ticks skipped because the previous run had not finished. */
  readonly skipped: number;
  cancel(): void;
}

/** `due`: the time the tick was scheduled for (a cron run's own minute, whatever the jitter or a late loop), or now. */
export type ScheduledWork = (signal: AbortSignal, due: Date) => Promise<void>;

/** Handed to a module by the agent; everything a module may touch outside its own folder. */
export interface ModuleContext {
  log: Logger;
  /** Aborted when the module instance begins to stop (before `stop()` is called); in-flight work must end with it. */
  signal: AbortSignal;
  /** A private, existing directory for the module's persistent state. */
  stateDir: string;
  /** Timers created here are cancelled with the module. A tick that overlaps a running one is skipped. */
  schedule(spec: ScheduleSpec, work: ScheduledWork): ScheduledTask;
  /**
   * Work the module started outside a schedule's tick (a start-up scan, a run asked for by the admin API).
   * When the module stops, the agent waits for it beside `stop()`, within `agent.stopTimeout`, so a module
   * keeps no set of promises of its own.
   */
  track(work: Promise<unknown>): void;
  /** Where the module reports its conditions (a renewal failing, a probe down) and their end. */
  conditions: ConditionReporter;
  /** Every module's conditions, for a module that tells a person about them (alerts). */
  conditionFeed: ConditionFeed;
  /** Where the module says another tool still does its job for an item (logrotate, certbot). */
  conflicts: ConflictReporter;
  /** The cluster this agent is part of, when the config has one (leases, shared state). */
  cluster: ClusterLink;
  /** Only for the module whose spec says `providesCluster`: where it puts the cluster it runs. */
  clusterProvider?: ClusterProvider;
}

export interface ModuleInstance<C> {
  /** Begins work; never waits on a remote service. */
  start(): Promise<void>;
  /** Applies a changed config, all or nothing: on throw the old config keeps running. */
  reload(next: C): Promise<void>;
  /**
   * Called after the agent has aborted `ctx.signal` and cancelled the module's timers: waits for the
   * in-flight work to end (logging each aborted item at info) and removes partial files. The agent
   * bounds the wait with `agent.stopTimeout`, so a module keeps no deadline of its own. Safe to call twice.
   */
  stop(): Promise<void>;
  health(): ModuleHealth;
  status(): unknown;
}

/** How a module's routes reach whatever instance is running now (routes are mounted once, at boot). */
export interface Live<I> {
  current(): I;
}

export interface RoutesOptions<I> {
  live: Live<I>;
}

export interface ModuleSpec<S extends z.ZodType = z.ZodType, M = unknown, I extends ModuleInstance<z.output<S>> = ModuleInstance<z.output<S>>> {
  /** The config section name and the module's handle everywhere (logs, metrics, status). */
  name: string;
  /** Where its admin routes are mounted, e.g. `/certs`. */
  prefix: string;
  config: S;
  /** Declares the module's metrics; called once per process so counters survive reloads. */
  metrics(registrar: MetricsRegistrar): M;
  routes: FastifyPluginAsync<RoutesOptions<I>>;
  /** Wires an instance; no I/O. */
  create(ctx: ModuleContext, config: z.output<S>, metrics: M): I;
  /** `caretaker <command>` subcommands; they talk to the admin API, or read the section with the daemon stopped. */
  commands?: CliCommand[];
  /** This module runs the cluster the others reach through `ctx.cluster` (it starts first, stops last). */
  providesCluster?: boolean;
  /** The module's lines of `caretaker doctor`, from its validated section; run by the CLI, daemon not needed. */
  doctor?(config: z.output<S>, ctx: DoctorContext): Promise<DoctorLine[]>;
}

/** Erases a spec's type parameters for the agent's module table without losing type-checking at definition. */
export function defineModule<S extends z.ZodType, M, I extends ModuleInstance<z.output<S>>>(
  spec: ModuleSpec<S, M, I>,
): ModuleSpec<S, M, I> {
  return spec;
}

// The agent holds heterogeneous specs; it only ever passes each spec's own outputs back to it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModuleSpec = ModuleSpec<z.ZodType, any, any>;
