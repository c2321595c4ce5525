import { Counter, Gauge, Histogram, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration, type Registry } from 'prom-client';

/**
 * How modules declare metrics: every metric lands in the agent's own registry (never prom-client's
 * global one) and must be named `caretaker_*`, so a module cannot shadow host or process metrics.
 */
export interface MetricsRegistrar {
  counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L>;
  gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L>;
  histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L>;
}

const RESERVED_LABELS = new Set(['job', 'instance', 'type']);

function checkName(name: string, labelNames: readonly string[] | undefined): void {
  if (!/^caretaker_[a-z0-9_]+$/.test(name)) {
    throw new Error(`metric name '${name}' must match caretaker_[a-z0-9_]+`);
  }
  for (const label of labelNames ?? []) {
    if (RESERVED_LABELS.has(label)) throw new Error(`metric '${name}': label '${label}' is reserved (job, instance, type)`);
  }
}

export function createRegistrar(registry: Registry): MetricsRegistrar {
  return {
    counter(config) {
      checkName(config.name, config.labelNames);
      return new Counter({ ...config, registers: [registry] });
    },
    gauge(config) {
      checkName(config.name, config.labelNames);
      return new Gauge({ ...config, registers: [registry] });
    },
    histogram(config) {
      checkName(config.name, config.labelNames);
      return new Histogram({ ...config, registers: [registry] });
    },
  };
}
