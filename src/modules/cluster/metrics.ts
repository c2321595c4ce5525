import type { Counter, Gauge } from 'prom-client';
import type { MetricsRegistrar } from '../../agent/kit/metrics.js';

export interface ClusterMetrics {
  leaseHeld: Gauge<'lease'>;
  acquisitions: Counter<'lease'>;
  losses: Counter<'lease'>;
  redisUp: Gauge;
}

/** Declares the module's metrics once per process; the literal names below are the contract. */
export function declareMetrics(registrar: MetricsRegistrar): ClusterMetrics {
  return {
    leaseHeld: registrar.gauge({
      name: 'caretaker_cluster_lease_held',
      help: '1 while this node holds the lease (a certificate order, a singleton backup run), 0 after it held it.',
      labelNames: ['lease'],
    }),
    acquisitions: registrar.counter({ name: 'caretaker_cluster_lease_acquisitions_total', help: 'Leases this node took.', labelNames: ['lease'] }),
    losses: registrar.counter({
      name: 'caretaker_cluster_lease_losses_total',
      help: 'Leases this node lost before releasing them (no renewal in time, or taken over): their work was stopped.',
      labelNames: ['lease'],
    }),
    redisUp: registrar.gauge({ name: 'caretaker_cluster_redis_up', help: '1 while the last command to the cluster Redis succeeded.' }),
  };
}
