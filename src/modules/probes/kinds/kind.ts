import { z } from 'zod';
import { duration, itemName } from '../../../agent/kit/schema.js';
import type { SeriesKey } from '../metrics.js';

/** Why a check ended as it did; a fixed set so it can label metrics and be branched on by scripts. */
export const REASONS = ['ok', 'timeout', 'refused', 'dns', 'tls', 'auth', 'status', 'query', 'unsupported'] as const;
export type Reason = (typeof REASONS)[number];

export const KINDS = ['redis', 'postgres', 'http', 'tcp'] as const;
export type Kind = (typeof KINDS)[number];

/** A timeout left out of the config is this, or the interval when that is shorter. */
export const DEFAULT_TIMEOUT_MS = 5_000;

/** Fields every probe has, whatever its kind; spread into each kind's strict object. */
export const commonProbeFields = {
  name: itemName().meta({ description: 'names the probe in routes and in the probe label of its metrics' }),
  interval: duration({ min: '100ms', max: '1d' }).default(30_000).meta({ description: 'time between the start of one check and the next (default 30s)' }),
  timeout: duration({ min: '10ms', max: '10m' }).optional().meta({ description: 'a check taking longer fails as timeout; default 5s or the interval, whichever is shorter; never longer than the interval' }),
  critical: z.boolean().default(false).meta({ description: 'a critical probe that is down makes /health/deep answer 503' }),
  failuresBeforeDown: z.number().int().min(1).max(100).default(1).meta({ description: 'consecutive failed checks before an up probe is reported down (against flapping)' }),
  successesBeforeUp: z.number().int().min(1).max(100).default(1).meta({ description: 'consecutive good checks before a down probe is reported up again' }),
};

/** What one check found. A failed check is a normal outcome, never an exception. */
export interface CheckOutcome {
  ok: boolean;
  reason: Reason;
  /** One human line: what was seen or what went wrong. */
  message: string;
  /** Numbers exported as kind-specific metrics, by series key (see metrics.ts). */
  series?: Partial<Record<SeriesKey, number>>;
  /** Facts shown by `GET /probes/:name` (role, version, status code...). */
  details?: Record<string, string | number | boolean | null>;
}

/** One probe's connection to its target; kept between checks where the kind allows. */
export interface Checker {
  /**
   * Runs one check. `signal` aborts at the deadline or when the probe stops: the checker must then drop any
   * connection it was opening. Rejections are classified by the caller, so a checker may let errors through.
   */
  check(signal: AbortSignal): Promise<CheckOutcome>;
  /** Drops a kept connection; safe to call twice and while a check runs. */
  close(): Promise<void>;
}

export function validUrl(protocols: readonly string[]) {
  return z.string().refine(
    (text) => {
      try {
        return protocols.includes(new URL(text).protocol.slice(0, -1));
      } catch {
        return false;
      }
    },
    { error: `expected a URL starting with ${protocols.map((p) => `${p}://`).join(' or ')}` },
  );
}
