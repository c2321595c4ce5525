import type { Counter, Gauge } from 'prom-client';
import type { LabelSet } from '../../agent/kit/item-set.js';
import type { MetricsRegistrar } from '../../agent/kit/metrics.js';

export const RENEWAL_RESULTS = ['success', 'failure'] as const;
export type RenewalResult = (typeof RENEWAL_RESULTS)[number];

export interface CertificatesMetrics {
  notAfter: Gauge<'cert'>;
  notBefore: Gauge<'cert'>;
  nextRenewal: Gauge<'cert'>;
  renewals: Counter<'cert' | 'result'>;
  lastError: Gauge<'cert'>;
}

export function declareMetrics(registrar: MetricsRegistrar): CertificatesMetrics {
  return {
    notAfter: registrar.gauge({
      name: 'caretaker_cert_not_after_timestamp_seconds',
      help: 'Expiry (notAfter) of the live certificate, Unix time.',
      labelNames: ['cert'],
    }),
    notBefore: registrar.gauge({
      name: 'caretaker_cert_not_before_timestamp_seconds',
      help: 'Start of validity (notBefore) of the live certificate, Unix time.',
      labelNames: ['cert'],
    }),
    nextRenewal: registrar.gauge({
      name: 'caretaker_cert_next_renewal_timestamp_seconds',
      help: 'When the next renewal attempt is planned, Unix time.',
      labelNames: ['cert'],
    }),
    renewals: registrar.counter({
      name: 'caretaker_cert_renewals_total',
      help: 'Certificate orders by result.',
      labelNames: ['cert', 'result'],
    }),
    lastError: registrar.gauge({
      name: 'caretaker_cert_last_error_timestamp_seconds',
      help: 'When the last renewal or deploy failure happened, Unix time; 0 when none since start.',
      labelNames: ['cert'],
    }),
  };
}

/**
 * The label sets a certificate owns while it is configured: the renewal counters and the last-error time
 * start at 0 so rate() and absence alerts work from the first scrape.
 */
export function itemLabelSets(metrics: CertificatesMetrics, cert: string): LabelSet[] {
  return [
    ...RENEWAL_RESULTS.map((result) => ({ metric: metrics.renewals, labels: { cert, result }, zero: true })),
    { metric: metrics.lastError, labels: { cert }, zero: true },
    { metric: metrics.notAfter, labels: { cert } },
    { metric: metrics.notBefore, labels: { cert } },
    { metric: metrics.nextRenewal, labels: { cert } },
  ];
}
