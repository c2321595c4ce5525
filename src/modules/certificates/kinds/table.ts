import type { ChallengeConfig } from '../config.js';
import { DnsHookSolver } from './dns01-hook.js';
import { StandaloneSolver } from './http01-standalone.js';
import { WebrootSolver } from './http01-webroot.js';
import type { ChallengeSolver } from './kind.js';

/** The one place that branches on the challenge config; the rest of the module sees a ChallengeSolver. */
export function solverFor(config: ChallengeConfig): ChallengeSolver {
  if ('hook' in config) return new DnsHookSolver(config.hook, config.timeout);
  if ('webroot' in config) return new WebrootSolver(config.webroot);
  return new StandaloneSolver(config.standalone.address, config.standalone.port);
}
