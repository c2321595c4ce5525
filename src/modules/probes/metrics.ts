import { Counter, Gauge, type Histogram } from 'prom-client';
import type { MetricsRegistrar } from '../../agent/kit/metrics.js';

/**
 * Kind-specific series, modelled on the redis/postgres/blackbox exporters' series. Each is labelled by probe
 * only (the kind is in the name) and read at scrape time from the latest results; a server-side counter
 * (evicted keys) is exposed as a counter so rate() works on it.
 */
const SERIES = {
  caretaker_probe_redis_connected_clients: { kind: 'gauge', help: 'Clients connected to the Redis server (INFO connected_clients).' },
  caretaker_probe_redis_used_memory_bytes: { kind: 'gauge', help: 'Memory used by Redis (INFO used_memory).' },
  caretaker_probe_redis_maxmemory_bytes: { kind: 'gauge', help: 'Configured Redis maxmemory, 0 for none (INFO maxmemory).' },
  caretaker_probe_redis_evicted_keys_total: { kind: 'counter', help: 'Keys evicted by Redis since it started (INFO evicted_keys).' },
  caretaker_probe_redis_rejected_connections_total: { kind: 'counter', help: 'Connections Redis rejected since it started (INFO rejected_connections).' },
  caretaker_probe_redis_connected_replicas: { kind: 'gauge', help: 'Replicas connected to this Redis master (INFO connected_slaves).' },
  caretaker_probe_redis_master_link_up: { kind: 'gauge', help: '1 when this Redis replica is linked to its master (replicas only).' },
  caretaker_probe_redis_replication_offset_lag_bytes: { kind: 'gauge', help: 'Replication offset lag: master offset minus the slowest replica (master) or own offset (replica).' },
  caretaker_probe_redis_rdb_last_bgsave_ok: { kind: 'gauge', help: '1 when the last RDB save succeeded (INFO rdb_last_bgsave_status).' },
  caretaker_probe_postgres_connections: { kind: 'gauge', help: 'Client backends connected to PostgreSQL.' },
  caretaker_probe_postgres_max_connections: { kind: 'gauge', help: 'PostgreSQL max_connections.' },
  caretaker_probe_postgres_in_recovery: { kind: 'gauge', help: '1 when PostgreSQL is a standby (pg_is_in_recovery()).' },
  caretaker_probe_postgres_replication_lag_seconds: { kind: 'gauge', help: 'Age of the last transaction replayed on a standby (standbys only).' },
  caretaker_probe_postgres_oldest_transaction_age_seconds: { kind: 'gauge', help: 'Age of the longest running transaction, 0 when none.' },
  caretaker_probe_postgres_database_size_bytes: { kind: 'gauge', help: 'Size of the probed database.' },
  caretaker_probe_postgres_server_version_num: { kind: 'gauge', help: 'PostgreSQL server_version_num (e.g. 150010).' },
  caretaker_probe_http_status_code: { kind: 'gauge', help: 'HTTP status code of the last answer.' },
  caretaker_probe_http_cert_not_after_timestamp_seconds: { kind: 'gauge', help: 'Not-after of the certificate served over https, Unix time.' },
  caretaker_probe_tcp_cert_not_after_timestamp_seconds: { kind: 'gauge', help: 'Not-after of the certificate served over TLS, Unix time.' },
} as const;

export type SeriesKey = keyof typeof SERIES;

export const SERIES_KEYS = Object.keys(SERIES) as SeriesKey[];

/** Latest kind-specific values per probe; the prober writes it, scrapes read it. */
export type SeriesStore = Map<string, Partial<Record<SeriesKey, number>>>;

export interface ProbesMetrics {
  up: Gauge<'probe' | 'kind'>;
  duration: Histogram<'probe' | 'kind'>;
  checks: Counter<'probe' | 'kind' | 'result' | 'reason'>;
  series: SeriesStore;
}

function seriesCollector(store: SeriesStore, key: SeriesKey) {
  return function collect(this: Gauge<'probe'> | Counter<'probe'>): void {
    this.reset();
    for (const [probe, values] of store) {
      const value = values[key];
      if (value === undefined) continue;
      if (this instanceof Gauge) this.set({ probe }, value);
      else this.inc({ probe }, value);
    }
  };
}

/** Declares the module's metrics once per process; the literal names below are the contract. */
export function declareMetrics(registrar: MetricsRegistrar): ProbesMetrics {
  const series: SeriesStore = new Map();
  for (const name of SERIES_KEYS) {
    const { kind, help } = SERIES[name];
    const config = { name, help, labelNames: ['probe'] as const, collect: seriesCollector(series, name) };
    if (kind === 'gauge') registrar.gauge(config);
    else registrar.counter(config);
  }

  return {
    up: registrar.gauge({
      name: 'caretaker_probe_up',
      help: '1 when the probe is up (after failuresBeforeDown / successesBeforeUp), 0 when down or not checked yet.',
      labelNames: ['probe', 'kind'],
    }),
    duration: registrar.histogram({
      name: 'caretaker_probe_duration_seconds',
      help: 'How long each check took, including connecting when no connection was kept.',
      labelNames: ['probe', 'kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    checks: registrar.counter({
      name: 'caretaker_probe_checks_total',
      help: 'Checks run, by result (success|failure) and reason.',
      labelNames: ['probe', 'kind', 'result', 'reason'],
    }),
    series,
  };
}
