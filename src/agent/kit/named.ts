import { isDeepStrictEqual } from 'node:util';

export interface NamedDiff<T> {
  added: T[];
  removed: T[];
  /** Items present in both whose config differs: `[old, next]`. */
  changed: Array<[T, T]>;
  unchanged: T[];
}

/** Compares two lists of named items so a reload touches only what changed. */
export function diffByName<T extends { name: string }>(previous: readonly T[], next: readonly T[]): NamedDiff<T> {
  const before = new Map(previous.map((item) => [item.name, item]));
  const diff: NamedDiff<T> = { added: [], removed: [], changed: [], unchanged: [] };
  for (const item of next) {
    const old = before.get(item.name);
    if (old === undefined) diff.added.push(item);
    else if (isDeepStrictEqual(old, item)) diff.unchanged.push(item);
    else diff.changed.push([old, item]);
    before.delete(item.name);
  }
  diff.removed.push(...before.values());
  return diff;
}
