import { NotFoundError } from '../../agent/kit/errors.js';
import type { ModuleContext, ModuleHealth, ModuleInstance } from '../../agent/kit/module.js';
import { diffByName } from '../../agent/kit/named.js';
import type { ProbesConfig } from './config.js';
import type { ProbeMetrics } from './metrics.js';
import { RunningProbe, type ProbeView } from './probe.js';

/** The probes module instance: one RunningProbe per configured probe. */
export class Prober implements ModuleInstance<ProbesConfig> {
  private config: ProbesConfig;
  private readonly probes = new Map<string, RunningProbe>();
  private stopped = false;

  constructor(
    private readonly ctx: ModuleContext,
    config: ProbesConfig,
    private readonly metrics: ProbeMetrics,
  ) {
    this.config = config;
  }

  async start(): Promise<void> {
    for (const probeConfig of this.config) {
      const probe = new RunningProbe(probeConfig, this.ctx, this.metrics);
      this.probes.set(probe.name, probe);
      probe.start();
    }
    this.ctx.log.info({ probes: this.probes.size }, 'probes started');
  }

  /** Unchanged probes keep running (and keep their connection); edited ones are replaced, keeping their state. */
  async reload(next: ProbesConfig): Promise<void> {
    const diff = diffByName(this.config, next);
    // Build everything first: creating a probe does no I/O, and nothing is stopped if construction throws.
    const added = diff.added.map((c) => new RunningProbe(c, this.ctx, this.metrics));
    const replaced = diff.changed.map(([, c]) => new RunningProbe(c, this.ctx, this.metrics));

    await Promise.all(diff.removed.map((c) => this.probes.get(c.name)?.stop({ removeMetrics: true })));
    for (const c of diff.removed) this.probes.delete(c.name);
    for (const probe of replaced) {
      const old = this.probes.get(probe.name);
      const sameKind = old?.config.type === probe.config.type;
      await old?.stop({ removeMetrics: !sameKind });
      if (old && sameKind) probe.inherit(old);
    }
    for (const probe of [...added, ...replaced]) {
      this.probes.set(probe.name, probe);
      probe.start();
    }
    this.config = next;
    this.ctx.log.info(
      { added: diff.added.length, removed: diff.removed.length, changed: diff.changed.length, unchanged: diff.unchanged.length },
      'probes reloaded',
    );
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.probes.values()].map((p) => p.stop({ removeMetrics: true })));
    this.probes.clear();
  }

  health(): ModuleHealth {
    const probes = [...this.probes.values()];
    const checks = probes.map((p) => p.healthCheck());
    const down = probes.filter((p) => p.status === 'down').map((p) => p.name);
    if (down.length === 0) return { status: 'ok', checks };
    return { status: 'degraded', message: `probes down: ${down.join(', ')}`, checks };
  }

  status(): { probes: ProbeView[] } {
    return { probes: this.list() };
  }

  list(): ProbeView[] {
    return [...this.probes.values()].map((p) => p.view());
  }

  get(name: string): ProbeView {
    const probe = this.probes.get(name);
    if (!probe) throw new NotFoundError('probe', name);
    return probe.view();
  }

  /** Runs one check of every probe (or of `name`) now; the results land in state and metrics. */
  async checkNow(name?: string): Promise<void> {
    if (name === undefined) {
      await Promise.all([...this.probes.values()].map((p) => p.checkNow()));
      return;
    }
    const probe = this.probes.get(name);
    if (!probe) throw new NotFoundError('probe', name);
    await probe.checkNow();
  }
}
