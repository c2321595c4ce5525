import type { AnyModuleSpec } from '../agent/kit/module.js';
import { alerts } from './alerts/index.js';
import { backups } from './backups/index.js';
import { certificates } from './certificates/index.js';
import { cluster } from './cluster/index.js';
import { logs } from './logs/index.js';
import { probes } from './probes/index.js';

/**
 * Every module the agent knows, in start order (stopped in reverse). Adding a module is one line. The cluster
 * comes first: the others may take leases from their start on.
 */
export const modules: readonly AnyModuleSpec[] = [cluster, certificates, backups, probes, logs, alerts];
