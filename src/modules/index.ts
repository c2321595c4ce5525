import type { AnyModuleSpec } from '../agent/kit/module.js';

/** Every module the agent knows, in start order (stopped in reverse). Adding a module is one line. */
export const modules: readonly AnyModuleSpec[] = [];
