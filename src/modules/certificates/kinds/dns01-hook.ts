import { execFile } from '../../../agent/kit/exec.js';
import type { ChallengeSolver, ChallengeTask } from './kind.js';

/**
 * dns-01 through a user hook: `<hook> set <fqdn> <value>` must return once the TXT record is
 * visible to the CA, `<hook> clear <fqdn> <value>` removes it. Any DNS provider, and wildcards.
 */
export class DnsHookSolver implements ChallengeSolver {
  readonly type = 'dns-01';

  constructor(
    private readonly hook: string,
    private readonly timeoutMs: number,
  ) {}

  static recordName(task: ChallengeTask): string {
    return `_acme-challenge.${task.domain}`;
  }

  async open(): Promise<void> {}

  async present(task: ChallengeTask, signal: AbortSignal): Promise<void> {
    await execFile(this.hook, ['set', DnsHookSolver.recordName(task), task.keyAuthorization], { signal, timeoutMs: this.timeoutMs, startsChildren: true });
  }

  async remove(task: ChallengeTask): Promise<void> {
    await execFile(this.hook, ['clear', DnsHookSolver.recordName(task), task.keyAuthorization], { timeoutMs: this.timeoutMs, startsChildren: true });
  }

  async close(): Promise<void> {}
}
