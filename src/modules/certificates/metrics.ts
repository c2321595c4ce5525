import type { Counter, Gauge } from 'prom-client';
import type { MetricsRegistrar } from '../../agent/kit/metrics.js';

export const RENEWAL_RESULTS = ['success', 'failure'] as const;
export type RenewalResult = (typeof RENEWAL_RESULTS)[number];

export interface CertificateMetrics {
  notAfter: Gauge<'cert'>;
  notBefore: Gauge<'cert'>;
  nextRenewal: Gauge<'cert'>;
  renewals: Counter<'cert' | 'result'>;
  lastError: Gauge<'cert'>;
}

export function declareMetrics(registrar: MetricsRegistrar): CertificateMetrics {
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

/** Known label sets start at 0 so rate() and absence alerts work from the first scrape. */
export function initCertMetrics(metrics: CertificateMetrics, cert: string): void {
  for (const result of RENEWAL_RESULTS) metrics.renewals.inc({ cert, result }, 0);
  metrics.lastError.set({ cert }, 0);
}

export function removeCertMetrics(metrics: CertificateMetrics, cert: string): void {
  metrics.notAfter.remove({ cert });
  metrics.notBefore.remove({ cert });
  metrics.nextRenewal.remove({ cert });
  metrics.lastError.remove({ cert });
  for (const result of RENEWAL_RESULTS) metrics.renewals.remove({ cert, result });
}
