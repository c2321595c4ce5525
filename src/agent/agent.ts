import { mkdir } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { ConfigError, describeError, type ConfigIssue } from './kit/errors.js';
import type { AnyModuleSpec } from './kit/module.js';
import { createRegistrar } from './kit/metrics.js';
import { formatListen } from './kit/schema.js';
import { forModule, type SecretSet } from './logger.js';
import { ClusterSlot } from './kit/cluster.js';
import { ConditionBus, type ConditionReport } from './kit/conditions.js';
import { ConflictBoard } from './kit/conflicts.js';
import { ModuleSlot } from './module-slot.js';
import { SdNotify } from './sd-notify.js';
import { HeapTrimmer } from './heap-trim.js';
import { startAdminServer, type AdminServer } from './admin/server.js';
import type { DeepHealth, LastReload, ReloadAnswer, StatusAnswer } from './admin/answers.js';
import { createAgentRegistry, type AgentRegistry } from '../metrics/registry.js';
import { startMetricsServer, type MetricsServer } from '../metrics/server.js';
import { startHostMetrics } from '../metrics/host/index.js';

type HostMetrics = ReturnType<typeof startHostMetrics>;

const RELOAD_KEY = 'agent:reload';
const startKey = (module: string) => `agent:module:${module}:start`;

/** What /reload answers, and the issues of a refused file (answered as a 400). */
export type ReloadReport = ReloadAnswer & { issues?: ConfigIssue[] };

export interface AgentOptions {
  configPath: string;
  modules: readonly AnyModuleSpec[];
  log: Logger;
  secrets: SecretSet;
  version: string;
  notify?: SdNotify;
}

/** Made before any module starts, so a state directory that cannot be made fails the start once, by name. */
async function createStateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    const hint = code === 'EROFS' || code === 'EACCES' || code === 'EPERM' ? ' (not writable by this user; under systemd only StateDirectory= and ReadWritePaths= are writable)' : '';
    throw new Error(`cannot create agent.stateDir ${dir}: ${code}${hint}`, { cause: err });
  }
}

/** Boots, reloads and stops the process; the only caller of module lifecycle methods. */
export class Agent {
  readonly startedAt = new Date();
  private config!: Config;
  private readonly slots: ModuleSlot[];
  /** Every module's conditions; the agent reports its own (a refused reload) under `agent`. */
  readonly conditions = new ConditionBus();
  private readonly agentConditions = this.conditions.reporter('agent');
  /** Set by the cluster module while it runs; every module reads it through `ctx.cluster`. */
  private readonly cluster = new ClusterSlot();
  /** What other tools still do of the modules' jobs (logrotate, certbot). */
  readonly conflicts = new ConflictBoard();
  private readonly metrics: AgentRegistry;
  private admin: AdminServer | undefined;
  private metricsServer: MetricsServer | undefined;
  private hostMetrics: HostMetrics | undefined;
  private readonly notify: SdNotify;
  private readonly heapTrimmer: HeapTrimmer;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private lastReload: LastReload = { ok: true, at: new Date().toISOString() };

  constructor(private readonly options: AgentOptions) {
    this.notify = options.notify ?? new SdNotify(options.log);
    this.heapTrimmer = new HeapTrimmer(options.log.child({ component: 'heap' }));
    this.metrics = createAgentRegistry(options.version, { moduleUp: () => this.moduleUpValues(), lastReloadOk: () => this.lastReload.ok, conflicts: () => this.conflicts.counts() });
    const registrar = createRegistrar(this.metrics.registry);
    // metrics() runs once per process so counters survive reloads.
    this.slots = options.modules.map(
      (spec) => new ModuleSlot(spec, spec.metrics(registrar), forModule(options.log, spec.name), this.conditions, this.conflicts, this.cluster),
    );
  }

  get log(): Logger {
    return this.options.log;
  }

  get version(): string {
    return this.options.version;
  }

  get current(): Config {
    return this.config;
  }

  get registry() {
    return this.metrics.registry;
  }

  /** Loads the config (throws ConfigError), opens the listeners, starts every configured module, then READY=1. */
  async boot(): Promise<void> {
    this.config = await loadConfig(this.options.configPath, { modules: this.options.modules });
    // The file runs as written: a refused reload still open from before a restart has ended.
    this.agentConditions.resolve(RELOAD_KEY);
    this.applyAgentSettings(this.config);
    this.warnDeprecated(this.config);
    this.admin = await startAdminServer(this, this.slots, this.log.child({ component: 'admin' }));
    this.metricsServer = await this.openMetricsListener(this.config);
    this.startHost(this.config);
    await createStateDir(this.config.agent.stateDir);
    for (const slot of this.slots) {
      const section = this.config.sections.get(slot.name);
      if (section !== undefined) {
        await slot.start(section, this.config.agent.stateDir, this.config.agent.stopTimeout);
        this.reportStart(slot);
      }
    }
    this.conditions.startupDone();
    const configured = this.slots.filter((slot) => slot.state !== 'absent');
    if (configured.length > 0 && configured.every((slot) => slot.state === 'failed')) {
      // Running on with nothing working would look healthy to systemd while doing none of its chores.
      throw new Error(`no configured module could start: ${configured.map((slot) => `${slot.name}: ${slot.error ?? 'failed'}`).join('; ')}`);
    }
    this.notify.startWatchdog();
    this.heapTrimmer.start();
    await this.notify.ready(this.statusLine());
    this.log.info(
      {
        config: this.config.path,
        admin: this.admin.address,
        metrics: this.metricsServer.address,
        modules: this.configuredNames(),
        startupMs: Math.round(process.uptime() * 1000),
      },
      'agent ready',
    );
  }

  /** Re-reads the config; an invalid file changes nothing. Reloads are serialised. */
  reload(): Promise<ReloadReport> {
    const next = this.queue.then(() => this.reloadNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Stops every module at once within agent.stopTimeout, then the listeners. Returns the exit code (1 if a module's stop failed or overran). */
  async shutdown(): Promise<number> {
    if (this.stopped) return 0;
    this.stopped = true;
    await this.queue;
    await this.notify.stopping();
    this.notify.stopWatchdog();
    this.heapTrimmer.stop();
    this.log.info('agent stopping');
    const deadline = this.config?.agent.stopTimeout ?? 20_000;
    // All at once: modules never depend on each other, and agent.stopTimeout bounds the whole stop (the
    // unit's TimeoutStopSec= is sized from it), not each module's in turn.
    const errors = await Promise.all(this.slots.map((slot) => slot.stop(deadline)));
    const failed = errors.some((error) => error !== undefined);
    this.hostMetrics?.stop();
    await this.admin?.close();
    await this.metricsServer?.close();
    this.log.info({ failed }, 'agent stopped');
    return failed ? 1 : 0;
  }

  deepHealth(): DeepHealth {
    const checks: DeepHealth['checks'] = [];
    const modules: DeepHealth['modules'] = {};
    for (const slot of this.slots) {
      if (slot.state === 'absent') continue;
      const health = slot.health();
      modules[slot.name] = { status: health.status, ...(health.message ? { message: health.message } : {}) };
      for (const check of health.checks ?? []) checks.push({ module: slot.name, ...check });
    }
    // A refused reload is shown but does not fail readiness: the agent runs on its last good config, and a
    // typo must not take the server out of a load balancer.
    return { ok: checks.every((c) => c.ok || !c.critical), lastReload: this.lastReload, checks, modules };
  }

  status(): StatusAnswer {
    return {
      version: this.version,
      node: process.versions.node,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      config: this.config.path,
      lastReload: this.lastReload,
      conflicts: this.conflicts.list(),
      admin: this.admin?.address,
      metrics: this.metricsServer?.address,
      modules: this.slots.map((slot) => ({
        name: slot.name,
        prefix: slot.spec.prefix,
        state: slot.state,
        health: slot.state === 'absent' ? undefined : slot.health(),
        ...(slot.error ? { error: slot.error } : {}),
        nextRuns: slot.nextRuns(),
        status: slot.status(),
      })),
    };
  }

  private async reloadNow(): Promise<ReloadReport> {
    await this.notify.reloading();
    try {
      return await this.applyReload();
    } finally {
      await this.notify.ready(this.statusLine());
    }
  }

  private async applyReload(): Promise<ReloadReport> {
    let next: Config;
    try {
      next = await loadConfig(this.options.configPath, { modules: this.options.modules });
    } catch (err) {
      const issues = err instanceof ConfigError ? err.issues : [{ path: '', message: describeError(err) }];
      this.log.error({ issues }, 'reload refused: invalid config; the running config stays');
      this.lastReload = { ok: false, at: new Date().toISOString(), issues };
      this.fireAgent({
        key: RELOAD_KEY,
        severity: 'critical',
        summary: 'reload refused: invalid config',
        detail: `${this.options.configPath}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}; the agent runs on the previous config`,
      });
      return { ok: false, issues, modules: {}, restartRequired: [] };
    }
    this.lastReload = { ok: true, at: new Date().toISOString() };
    const report: ReloadReport = { ok: true, modules: {}, restartRequired: this.restartRequired(next) };
    const previous = this.config;
    this.config = next;
    this.applyAgentSettings(next);
    this.warnDeprecated(next);
    await this.applyMetricsSettings(previous, next, report);
    for (const slot of this.slots) {
      const section = next.sections.get(slot.name);
      const entry = await this.reloadSlot(slot, section, next);
      report.modules[slot.name] = entry;
      if (entry.change === 'failed') report.ok = false;
    }
    const failed = Object.entries(report.modules).flatMap(([name, entry]) => (entry.change === 'failed' ? [`${name}: ${entry.error ?? 'failed'}`] : []));
    if (report.metricsError) failed.push(`metrics: ${report.metricsError}`);
    if (failed.length === 0) this.agentConditions.resolve(RELOAD_KEY);
    else this.fireAgent({ key: RELOAD_KEY, severity: 'critical', summary: 'reload failed in part', detail: failed.join('; ') });
    this.log.info({ modules: report.modules, restartRequired: report.restartRequired }, 'config reloaded');
    return report;
  }

  private async reloadSlot(slot: ModuleSlot, section: unknown, next: Config): Promise<ReloadReport['modules'][string]> {
    if (section === undefined) {
      if (slot.state === 'absent') return { change: 'unchanged' };
      const error = await slot.stop(next.agent.stopTimeout);
      // Nothing is left to report their end: a removed section's conditions end with it.
      this.conditions.resolveModule(slot.name);
      this.agentConditions.resolve(startKey(slot.name));
      return error ? { change: 'failed', error } : { change: 'stopped' };
    }
    if (slot.state !== 'running') {
      await slot.start(section, next.agent.stateDir, next.agent.stopTimeout);
      this.reportStart(slot);
      return slot.isRunning() ? { change: 'started' } : { change: 'failed', error: slot.error ?? 'start failed' };
    }
    if (isDeepStrictEqual(slot.config, section)) return { change: 'unchanged' };
    const error = await slot.reload(section);
    return error ? { change: 'failed', error } : { change: 'reloaded' };
  }

  private reportStart(slot: ModuleSlot): void {
    if (slot.isRunning()) return this.agentConditions.resolve(startKey(slot.name));
    this.fireAgent({ key: startKey(slot.name), severity: 'critical', summary: `module ${slot.name} failed to start`, detail: slot.error ?? 'failed', item: slot.name });
  }

  /** The agent's own reports leave the process by the alerts module, not the logger: secrets are scrubbed here. */
  private fireAgent(report: ConditionReport): void {
    this.agentConditions.fire({ ...report, ...(report.detail ? { detail: this.options.secrets.scrub(report.detail) } : {}) });
  }

  private restartRequired(next: Config): string[] {
    const out: string[] = [];
    if (formatListen(next.admin.listen) !== formatListen(this.config.admin.listen)) out.push('admin.listen');
    if (next.agent.stateDir !== this.config.agent.stateDir) out.push('agent.stateDir');
    return out;
  }

  private openMetricsListener(config: Config) {
    const options = config.metrics.webConfig ? { webConfig: config.metrics.webConfig } : {};
    return startMetricsServer(this.metrics.registry, config.metrics.listen, this.log.child({ component: 'metrics' }), options);
  }

  /**
   * A new metrics address is bound before the old listener closes, so scrapes never see a gap. A new
   * web config on the same address needs the port, so there the old listener closes first, and comes
   * back with the previous settings if the new ones cannot be applied.
   */
  private async applyMetricsSettings(previous: Config, next: Config, report: ReloadReport): Promise<void> {
    const moved = formatListen(previous.metrics.listen) !== formatListen(next.metrics.listen);
    if (moved || !isDeepStrictEqual(previous.metrics.webConfig, next.metrics.webConfig)) {
      try {
        if (moved) {
          const replacement = await this.openMetricsListener(next);
          await this.metricsServer?.close();
          this.metricsServer = replacement;
        } else {
          await this.metricsServer?.close();
          this.metricsServer = undefined;
          this.metricsServer = await this.openMetricsListener(next);
        }
      } catch (err) {
        report.ok = false;
        report.metricsError = `cannot listen on ${formatListen(next.metrics.listen)}: ${describeError(err)}`;
        this.metricsServer ??= await this.openMetricsListener(previous).catch(() => undefined);
      }
    }
    if (previous.metrics.host !== next.metrics.host || previous.metrics.hostInterval !== next.metrics.hostInterval) {
      this.hostMetrics?.stop();
      this.hostMetrics = undefined;
      this.startHost(next);
    }
  }

  private startHost(config: Config): void {
    if (!config.metrics.host || this.hostMetrics) return;
    this.hostMetrics = startHostMetrics(this.metrics.registry, { intervalMs: config.metrics.hostInterval, log: this.log.child({ component: 'host-metrics' }) });
  }

  /** Once per load, so a reload that keeps a deprecated key says so again but a running agent does not repeat it. */
  private warnDeprecated(config: Config): void {
    for (const warning of config.warnings) this.log.warn({ configKey: warning.path, location: warning.location }, warning.message);
  }

  private applyAgentSettings(config: Config): void {
    this.options.log.level = config.agent.logLevel;
    this.options.secrets.replaceAll(config.secrets);
  }

  private moduleUpValues(): Array<[string, number]> {
    return this.slots
      .filter((slot) => slot.state !== 'absent')
      .map((slot) => [slot.name, slot.state === 'running' && slot.health().status !== 'failed' ? 1 : 0]);
  }

  private configuredNames(): string[] {
    return this.slots.filter((slot) => slot.state !== 'absent').map((slot) => slot.name);
  }

  private statusLine(): string {
    const failed = this.slots.filter((slot) => slot.state === 'failed').map((slot) => slot.name);
    if (!this.lastReload.ok) return `running on the previous config: reload refused (${this.lastReload.issues?.length ?? 0} problems, see caretaker status)`;
    return failed.length ? `running; failed modules: ${failed.join(', ')}` : `running: ${this.configuredNames().join(', ') || 'no modules'}`;
  }
}
