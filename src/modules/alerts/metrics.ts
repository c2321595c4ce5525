import type { Counter } from 'prom-client';
import type { ConditionSeverity } from '../../agent/kit/conditions.js';
import type { MetricsRegistrar } from '../../agent/kit/metrics.js';

export const RESULTS = ['delivered', 'failed', 'rejected', 'dropped'] as const;

/** What the scrape reads from the running instance (cached state, no I/O). */
export interface AlertsMetricsSource {
  firingBySeverity(): Record<ConditionSeverity, number>;
  queued(): Array<{ channel: string; messages: number }>;
}

export interface AlertsMetrics {
  notifications: Counter<'channel' | 'result'>;
  /** Set by the running instance, cleared when it stops. */
  source: { current?: AlertsMetricsSource };
}

/** Declares the module's metrics once per process; the literal names below are the contract. */
export function declareMetrics(registrar: MetricsRegistrar): AlertsMetrics {
  const source: AlertsMetrics['source'] = {};
  registrar.gauge({
    name: 'caretaker_alerts_firing',
    help: 'Conditions firing now, by severity (warning|critical), as the alerts module knows them.',
    labelNames: ['severity'],
    collect() {
      this.reset();
      const counts = source.current?.firingBySeverity();
      if (!counts) return;
      for (const [severity, count] of Object.entries(counts)) this.set({ severity }, count);
    },
  });
  registrar.gauge({
    name: 'caretaker_alert_queued_messages',
    help: 'Messages waiting to be delivered to each channel (retried until delivered).',
    labelNames: ['channel'],
    collect() {
      this.reset();
      for (const { channel, messages } of source.current?.queued() ?? []) this.set({ channel }, messages);
    },
  });
  return {
    notifications: registrar.counter({
      name: 'caretaker_alert_notifications_total',
      help: 'Delivery attempts by channel and result: delivered, failed (retryable: network, 5xx, 429), rejected (other 4xx, retried later), dropped (queue full).',
      labelNames: ['channel', 'result'],
    }),
    source,
  };
}
