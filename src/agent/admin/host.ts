import type { AdminSettings } from '../config/schema.js';
import type { ConfigIssue } from '../kit/errors.js';
import type { DeepHealth, ReloadAnswer, StatusAnswer } from './answers.js';

/**
 * What the admin API needs of the agent. Declared on the admin side, not taken from agent.ts, so the agent
 * (which starts the admin server) and the admin server do not import each other, not even for types.
 */
export interface AdminHost {
  readonly version: string;
  readonly current: { readonly admin: AdminSettings };
  deepHealth(): DeepHealth;
  status(): StatusAnswer;
  /** `issues` set: the file was refused and nothing changed. */
  reload(): Promise<ReloadAnswer & { issues?: ConfigIssue[] }>;
}
