import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import { ConditionBus } from '../../src/agent/kit/conditions.js';
import { ClusterSlot } from '../../src/agent/kit/cluster.js';
import { ConflictBoard } from '../../src/agent/kit/conflicts.js';
import type { ModuleContext, ScheduledTask } from '../../src/agent/kit/module.js';
import { createRegistrar, type MetricsRegistrar } from '../../src/agent/kit/metrics.js';
import { ModuleScheduler } from '../../src/agent/scheduler.js';

export interface TestModuleContext {
  ctx: ModuleContext;
  registry: Registry;
  registrar: MetricsRegistrar;
  log: Logger;
  /** The bus behind `ctx.conditions` and `ctx.conditionFeed`: what the module reported. */
  conditions: ConditionBus;
  /** The link behind `ctx.cluster`: a test provides a cluster there. */
  cluster: ClusterSlot;
  /** The board behind `ctx.conflicts`. */
  conflicts: ConflictBoard;
  /** Runs the module's schedule `name` now (the latest one scheduled under that name), or waits for its run in flight. */
  runTask(name: string): Promise<boolean>;
  /** Resolves once the module has nothing in flight: no tick running, nothing it tracked (`ctx.track`) unfinished. */
  settled(): Promise<void>;
  /** Aborts the context, cancels its timers and waits for its work in flight, as the agent does when the module stops; removes the state dir. */
  dispose(): Promise<void>;
}

/**
 * A real ModuleContext (real scheduler, temp state dir, own registry) for testing one module without the agent.
 * A process the test kills (-9) is given its `stateDir` by the test, which removes it: its own would be left behind.
 */
export async function createTestContext(name: string, options: { stateDir?: string } = {}): Promise<TestModuleContext> {
  const stateDir = options.stateDir ?? (await mkdtemp(join(tmpdir(), `caretaker-${name}-state-`)));
  await mkdir(stateDir, { recursive: true });
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }).child({ module: name });
  const controller = new AbortController();
  const scheduler = new ModuleScheduler(log, controller.signal);
  const registry = new Registry();
  const conditions = new ConditionBus();
  const conflicts = new ConflictBoard();
  const cluster = new ClusterSlot();
  const tasks: ScheduledTask[] = [];
  return {
    ctx: {
      log,
      signal: controller.signal,
      stateDir,
      schedule: (spec, work) => {
        const task = scheduler.schedule(spec, work);
        tasks.push(task);
        return task;
      },
      track: (work) => scheduler.track(work),
      conditions: conditions.reporter(name),
      conditionFeed: conditions,
      conflicts: conflicts.reporter(name, log),
      cluster,
      clusterProvider: cluster,
    },
    cluster,
    conditions,
    conflicts,
    registry,
    registrar: createRegistrar(registry),
    log,
    async runTask(name) {
      const task = tasks.findLast((t) => t.name === name && t.nextRun() !== null);
      if (!task) throw new Error(`no schedule named ${name}`);
      return task.runNow();
    },
    settled: () => scheduler.idle(),
    async dispose() {
      controller.abort();
      scheduler.cancelAll();
      await scheduler.idle();
      if (options.stateDir === undefined) await rm(stateDir, { recursive: true, force: true });
    },
  };
}
