import { z } from 'zod';
import type { PathSegment } from './expand.js';

/** A key the file sets that its schema marks `.meta({ deprecated: true })`: still read, to be rewritten. */
export interface DeprecatedKey {
  path: PathSegment[];
  /** The key's description: what to write instead. */
  message: string;
}

/** Walks no deeper than the loader lets a document nest. */
const MAX_DEPTH = 64;

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
  values?: unknown[];
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { def: Def }).def;

/** The deprecation note of a key's schema, looking through the wrappers (`.optional()`, `.default()`) around it. */
function deprecation(schema: z.ZodType): string | undefined {
  for (let node: z.ZodType | undefined = schema, i = 0; node && i < 10; node = defOf(node).innerType, i++) {
    const meta = z.globalRegistry.get(node);
    if (meta?.deprecated) return meta.description ?? 'deprecated';
  }
  return undefined;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The literal values a union member's discriminator key accepts. */
function discriminatorValues(option: z.ZodType, key: string): unknown[] {
  let node: z.ZodType | undefined = option;
  for (let i = 0; node && i < 10 && !defOf(node).shape; i++) node = defOf(node).innerType ?? defOf(node).in;
  const field = node && defOf(node).shape?.[key];
  return field ? (defOf(field).values ?? []) : [];
}

function walk(schema: z.ZodType, value: unknown, path: PathSegment[], out: DeprecatedKey[], depth: number): void {
  if (depth > MAX_DEPTH) return;
  const def = defOf(schema);
  switch (def.type) {
    case 'object':
      if (!isRecord(value)) return;
      for (const [key, child] of Object.entries(value)) {
        const field = def.shape?.[key];
        if (!field) continue;
        const note = deprecation(field);
        if (note) out.push({ path: [...path, key], message: `deprecated key: ${note}` });
        walk(field, child, [...path, key], out, depth + 1);
      }
      return;
    case 'array':
      if (Array.isArray(value) && def.element) value.forEach((item, index) => walk(def.element!, item, [...path, index], out, depth + 1));
      return;
    case 'record':
      if (isRecord(value) && def.valueType) for (const [key, child] of Object.entries(value)) walk(def.valueType, child, [...path, key], out, depth + 1);
      return;
    case 'union': {
      const key = def.discriminator;
      // A tagged union reads the member its tag names; a plain one might read any of them.
      const members = key && isRecord(value) ? def.options!.filter((option) => discriminatorValues(option, key).includes(value[key])) : def.options!;
      for (const member of members) walk(member, value, path, out, depth + 1);
      return;
    }
    case 'intersection':
      walk(def.left!, value, path, out, depth + 1);
      walk(def.right!, value, path, out, depth + 1);
      return;
    case 'pipe':
      // A preprocess (a transform in front) hands its output on; anything else reads the file's value first.
      walk(defOf(def.in!).type === 'transform' ? def.out! : def.in!, value, path, out, depth + 1);
      return;
    case 'lazy':
      walk(def.getter!(), value, path, out, depth + 1);
      return;
    default:
      if (def.innerType) walk(def.innerType, value, path, out, depth + 1);
  }
}

/** Every deprecated key `value` (the expanded file, already valid) sets, each once, in file order. */
export function deprecatedKeys(schema: z.ZodType, value: unknown): DeprecatedKey[] {
  const found: DeprecatedKey[] = [];
  walk(schema, value, [], found, 0);
  const seen = new Set<string>();
  return found.filter((entry) => {
    const id = JSON.stringify(entry.path);
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
