/** One identifier to prove control of, with what the CA expects to find. */
export interface ChallengeTask {
  /** The identifier as the CA names it (a wildcard's base domain, without `*.`). */
  domain: string;
  wildcard: boolean;
  token: string;
  /** http-01: the body to serve; dns-01: the TXT value (already digested). */
  keyAuthorization: string;
}

/** How a certificate proves control of its names; one instance per order. */
export interface ChallengeSolver {
  readonly type: 'http-01' | 'dns-01';
  /** Before the first present() of an order (opens the standalone listener). */
  open(signal: AbortSignal): Promise<void>;
  present(task: ChallengeTask, signal: AbortSignal): Promise<void>;
  /** Best effort; called for every presented task, also after a failure. */
  remove(task: ChallengeTask): Promise<void>;
  /** After the order's challenges are done or abandoned; idempotent. */
  close(): Promise<void>;
}
