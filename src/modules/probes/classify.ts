import { describeError } from '../../agent/kit/errors.js';
import { ExecError } from '../../agent/kit/exec.js';
import type { CheckOutcome, Reason } from './kinds/kind.js';

const NETWORK_REASONS: Record<string, Reason> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'refused',
  EPIPE: 'refused',
  EHOSTUNREACH: 'refused',
  ENETUNREACH: 'refused',
  ENOENT: 'refused', // a unix socket that is not there
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  ETIMEDOUT: 'timeout',
  ABORT_ERR: 'timeout',
};

/** OpenSSL verification codes Node reports on a refused certificate. */
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

function codesOf(err: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current instanceof Error && depth < 8; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string') codes.push(code);
    // AggregateError from a dual-stack connect carries the per-address errors.
    if (current instanceof AggregateError) for (const inner of current.errors) codes.push(...codesOf(inner));
    current = current.cause;
  }
  return codes;
}

/** The reason a network-level failure maps to; undefined when the error is not one the network layer explains. */
export function networkReason(err: unknown): Reason | undefined {
  for (const code of codesOf(err)) {
    if (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'tls';
    const reason = NETWORK_REASONS[code];
    if (reason) return reason;
  }
  const text = describeError(err);
  if (/certificate|ssl|tls/i.test(text)) return 'tls';
  if (/connection (is )?closed|connection terminated|socket hang up|ended by the other party/i.test(text)) return 'refused';
  if (/timed? ?out|timeout expired/i.test(text)) return 'timeout';
  return undefined;
}

/**
 * A failed outcome from an error; `kindReason` lets a kind recognise its own errors (auth, query...) first,
 * and `fallback` names what an unexplained error most likely was for that kind.
 */
export function failure(err: unknown, kindReason?: (err: unknown) => Reason | undefined, fallback: Reason = 'query'): CheckOutcome {
  const reason = kindReason?.(err) ?? networkReason(err) ?? fallback;
  return { ok: false, reason, message: describeError(err) };
}

/**
 * Why a client tool run through an `exec:` prefix failed, from its last words: the tool's (psql, redis-cli) or
 * the prefix's own (`docker: no such container`), which is the database not being there to reach.
 */
export function toolReason(err: unknown): Reason {
  const text = err instanceof ExecError ? `${err.stderr} ${err.message}` : describeError(err);
  if (err instanceof ExecError && err.exitCode === null && /timed out/.test(err.message)) return 'timeout';
  if (/password authentication failed|no password supplied|WRONGPASS|NOAUTH|NOPERM|role ".*" does not exist|database ".*" does not exist/i.test(text)) return 'auth';
  if (/could not translate host name|Name or service not known|Temporary failure in name resolution/i.test(text)) return 'dns';
  if (/timeout expired|timed out/i.test(text)) return 'timeout';
  if (/\bSSL\b|\bTLS\b|certificate/i.test(text)) return 'tls';
  if (/\bERROR:\s/.test(text) || !(err instanceof ExecError)) return 'query';
  return 'refused';
}
