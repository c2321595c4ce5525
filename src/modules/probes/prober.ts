import { ItemSet, type ItemEntry } from '../../agent/kit/item-set.js';
import type { ModuleContext, ModuleHealth, ModuleInstance } from '../../agent/kit/module.js';
import type { ProbeConfig, ProbesConfig } from './config.js';
import type { ProbesMetrics } from './metrics.js';
import { itemLabelSets, RunningProbe, type ProbeView } from './probe.js';

/** The probes module instance: one RunningProbe per configured probe. */
export class Prober implements ModuleInstance<ProbesConfig> {
  private readonly probes: ItemSet<ProbeConfig, RunningProbe>;

  constructor(
    private readonly ctx: ModuleContext,
    private readonly config: ProbesConfig,
    metrics: ProbesMetrics,
  ) {
    this.probes = new ItemSet<ProbeConfig, RunningProbe>({
      ctx,
      noun: 'probe',
      logKey: 'probe',
      runName: 'check',
      // An edited probe of the same kind carries its state so health does not flap; it gets a new connection.
      create: (c, handle, previous) => new RunningProbe(c, handle, metrics, ctx.conditions, previous?.config.type === c.type ? previous : undefined),
      close: (probe) => probe.close(),
      labelSets: (c) => itemLabelSets(metrics, c),
    });
  }

  async start(): Promise<void> {
    for (const probeConfig of this.config) this.schedule(this.probes.add(probeConfig));
    this.ctx.log.info({ probes: this.probes.size }, 'probes started');
  }

  /** Unchanged probes keep running (and keep their connection); edited ones are replaced, keeping their state. */
  async reload(next: ProbesConfig): Promise<void> {
    const diff = await this.probes.apply(next);
    for (const c of [...diff.changed.map(([, n]) => n), ...diff.added]) this.schedule(this.probes.get(c.name));
    this.ctx.log.info(
      { added: diff.added.length, removed: diff.removed.length, changed: diff.changed.length, unchanged: diff.unchanged.length },
      'probes reloaded',
    );
  }

  async stop(): Promise<void> {
    await this.probes.stop();
  }

  health(): ModuleHealth {
    const probes = this.probes.values().map((e) => e.item);
    const checks = probes.map((p) => p.healthCheck());
    const down = probes.filter((p) => p.status === 'down').map((p) => p.name);
    if (down.length === 0) return { status: 'ok', checks };
    return { status: 'degraded', message: `probes down: ${down.join(', ')}`, checks };
  }

  status(): { probes: ProbeView[] } {
    return { probes: this.list() };
  }

  list(): ProbeView[] {
    return this.probes.values().map((e) => e.item.view());
  }

  get(name: string): ProbeView {
    return this.probes.get(name).item.view();
  }

  /** Runs one check of every probe (or of `name`) now, or waits for the one running; the results land in state and metrics. */
  async checkNow(name?: string): Promise<void> {
    const entries = name === undefined ? this.probes.values() : [this.probes.get(name)];
    await Promise.all(entries.map((e) => (e.running ?? this.probes.begin(e.name, 'manual', check)).done));
  }

  private schedule(entry: ItemEntry<ProbeConfig, RunningProbe>): void {
    entry.item.start(this.probes.schedule(entry.name, { name: `probe:${entry.name}`, everyMs: entry.config.interval, runAtStart: true }, check));
  }
}

function check(entry: ItemEntry<ProbeConfig, RunningProbe>): Promise<void> {
  return entry.item.check(entry.signal);
}
