import type { Logger } from 'pino';

/**
 * Conflicts: another tool on the server still does a module's job (logrotate rotating the same files,
 * certbot renewing the same lineage). Modules report what they find at start and reload; the agent shows
 * it in the log, `/status`, `caretaker status` and `caretaker_conflicts{module,kind}`.
 */

export interface Conflict {
  /** The configured item concerned: a log set, a certificate. */
  item: string;
  /** What the other tool does, with the file that makes it do so. */
  detail: string;
  /** The command that resolves it. */
  fix: string;
}

export interface ModuleConflict extends Conflict {
  module: string;
  /** The other tool: `logrotate`, `certbot`. */
  kind: string;
}

/** What a module gets in `ctx.conflicts`. */
export interface ConflictReporter {
  /** Replaces what the module found of `kind`; an empty list says none is left. */
  set(kind: string, found: Conflict[]): void;
}

/** The agent's one board; the metric keeps a kind at 0 once its conflicts are resolved. */
export class ConflictBoard {
  private readonly found = new Map<string, ModuleConflict[]>();

  reporter(module: string, log: Logger): ConflictReporter {
    return {
      set: (kind, conflicts) => {
        const key = `${module}\u0000${kind}`;
        const before = new Set((this.found.get(key) ?? []).map((c) => c.item));
        for (const conflict of conflicts) {
          if (!before.has(conflict.item)) log.warn({ kind, item: conflict.item, fix: conflict.fix }, `conflict: ${conflict.detail}`);
        }
        this.found.set(key, conflicts.map((c) => ({ ...c, module, kind })));
      },
    };
  }

  /** Forgets a module's findings (its section was removed, or it stopped). */
  clear(module: string): void {
    for (const key of this.found.keys()) if (key.startsWith(`${module}\u0000`)) this.found.delete(key);
  }

  list(): ModuleConflict[] {
    return [...this.found.values()].flat();
  }

  /** `[module, kind, count]` for every kind a module has reported, 0 included. */
  counts(): Array<[string, string, number]> {
    return [...this.found.entries()].map(([key, conflicts]) => {
      const [module, kind] = key.split('\u0000') as [string, string];
      return [module, kind, conflicts.length];
    });
  }
}
