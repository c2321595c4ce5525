/** `pending` until the first check; then up or down, switched only after enough consecutive results. */
export type ProbeStatus = 'pending' | 'up' | 'down';

export interface Thresholds {
  failuresBeforeDown: number;
  successesBeforeUp: number;
}

export interface ProbeState {
  status: ProbeStatus;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
}

export const INITIAL_STATE: ProbeState = { status: 'pending', consecutiveFailures: 0, consecutiveSuccesses: 0 };

/**
 * The state after one more check. The first result decides at once (a probe should not sit in `pending` for
 * several intervals); after that the thresholds damp flapping in both directions.
 */
export function advance(state: ProbeState, ok: boolean, thresholds: Thresholds): ProbeState {
  const consecutiveFailures = ok ? 0 : state.consecutiveFailures + 1;
  const consecutiveSuccesses = ok ? state.consecutiveSuccesses + 1 : 0;
  let status = state.status;
  if (status === 'pending') status = ok ? 'up' : 'down';
  else if (status === 'up' && consecutiveFailures >= thresholds.failuresBeforeDown) status = 'down';
  else if (status === 'down' && consecutiveSuccesses >= thresholds.successesBeforeUp) status = 'up';
  return { status, consecutiveFailures, consecutiveSuccesses };
}
