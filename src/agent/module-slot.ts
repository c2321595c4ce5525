import { setMaxListeners } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ClusterSlot } from './kit/cluster.js';
import type { ConditionBus } from './kit/conditions.js';
import type { ConflictBoard } from './kit/conflicts.js';
import { describeError } from './kit/errors.js';
import type { AnyModuleSpec, ModuleHealth, ModuleInstance } from './kit/module.js';
import { ModuleScheduler } from './scheduler.js';

export type SlotState = 'absent' | 'running' | 'failed';

interface Running {
  instance: ModuleInstance<unknown>;
  config: unknown;
  controller: AbortController;
  scheduler: ModuleScheduler;
}

/** One module in the agent's table: its spec, its metrics (made once) and the instance running now, if any. */
export class ModuleSlot {
  state: SlotState = 'absent';
  /** Why the last start or reload failed. */
  error: string | undefined;
  private running: Running | undefined;

  constructor(
    readonly spec: AnyModuleSpec,
    readonly metrics: unknown,
    private readonly log: Logger,
    private readonly conditions: ConditionBus,
    private readonly conflicts: ConflictBoard,
    private readonly cluster: ClusterSlot,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  isRunning(): boolean {
    return this.state === 'running';
  }

  get instance(): ModuleInstance<unknown> | undefined {
    return this.running?.instance;
  }

  get config(): unknown {
    return this.running?.config;
  }

  /** `stopTimeoutMs` bounds the stop that cleans up after a failed start. */
  async start(config: unknown, stateRoot: string, stopTimeoutMs: number): Promise<void> {
    const controller = new AbortController();
    // Every probe, job and order of the module waits on this one signal at once (50 probes, 50 listeners):
    // Node's leak warning at 11 would be noise.
    setMaxListeners(0, controller.signal);
    const scheduler = new ModuleScheduler(this.log, controller.signal);
    try {
      const stateDir = join(stateRoot, this.name);
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      const instance = this.spec.create(
        {
          log: this.log,
          signal: controller.signal,
          stateDir,
          schedule: (spec, work) => scheduler.schedule(spec, work),
          track: (work) => scheduler.track(work),
          conditions: this.conditions.reporter(this.name),
          conditionFeed: this.conditions,
          conflicts: this.conflicts.reporter(this.name, this.log),
          cluster: this.cluster,
          ...(this.spec.providesCluster ? { clusterProvider: this.cluster } : {}),
        },
        config,
        this.metrics,
      );
      this.running = { instance, config, controller, scheduler };
      await instance.start();
      this.state = 'running';
      this.error = undefined;
      this.log.info('module started');
    } catch (err) {
      this.state = 'failed';
      this.error = describeError(err);
      this.log.error({ err: this.error }, 'module failed to start');
      await this.stop(stopTimeoutMs);
      this.state = 'failed';
    }
  }

  /** All or nothing: on failure the module keeps its old config and the error is returned. */
  async reload(next: unknown): Promise<string | undefined> {
    const running = this.running;
    if (!running) return 'module is not running';
    try {
      await running.instance.reload(next);
      running.config = next;
      this.log.info('module reloaded');
      return undefined;
    } catch (err) {
      const message = describeError(err);
      this.log.error({ err: message }, 'module reload failed; keeping the previous config');
      return message;
    }
  }

  /**
   * Aborts the module's signal and cancels its timers first, so in-flight work is already ending when
   * `instance.stop()` is awaited; that wait is bounded by `deadlineMs` whatever the module does. Returns the
   * error if its stop failed or overran.
   */
  async stop(deadlineMs: number): Promise<string | undefined> {
    const running = this.running;
    this.running = undefined;
    this.state = 'absent';
    this.conflicts.clear(this.name);
    if (!running) return undefined;
    running.controller.abort();
    running.scheduler.cancelAll();
    let timer: NodeJS.Timeout | undefined;
    let failure: string | undefined;
    try {
      await Promise.race([
        Promise.all([running.instance.stop(), running.scheduler.idle()]),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`did not stop within ${deadlineMs} ms (agent.stopTimeout)`)), deadlineMs);
        }),
      ]);
    } catch (err) {
      failure = describeError(err);
      this.log.error({ err: failure }, 'module stop failed');
    } finally {
      clearTimeout(timer);
    }
    return failure;
  }

  health(): ModuleHealth {
    if (this.state === 'failed') return { status: 'failed', message: this.error ?? 'failed' };
    const instance = this.running?.instance;
    if (!instance) return { status: 'ok', message: 'not configured' };
    try {
      return instance.health();
    } catch (err) {
      return { status: 'failed', message: `health() threw: ${describeError(err)}` };
    }
  }

  status(): unknown {
    try {
      return this.running?.instance.status();
    } catch (err) {
      return { error: describeError(err) };
    }
  }

  nextRuns(): Array<{ name: string; next: string | null }> {
    return this.running?.scheduler.nextRuns() ?? [];
  }
}
