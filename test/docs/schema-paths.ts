import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  deprecated?: boolean;
}

function walk(node: JsonSchema, prefix: string, into: Set<string>): Set<string> {
  for (const variant of [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])]) walk(variant, prefix, into);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    // A deprecated key is still read but no longer shown to new users.
    if (child.deprecated) continue;
    const path = prefix ? `${prefix}.${key}` : key;
    into.add(path);
    walk(child, path, into);
  }
  if (node.items) walk(node.items, `${prefix}[]`, into);
  return into;
}

/** Every key path docs/caretaker.schema.json allows (`probes[].tls.ca`), over all variants of a union, deprecated keys left out. */
export async function schemaPaths(): Promise<Set<string>> {
  const schema = JSON.parse(await readFile(fileURLToPath(new URL('../../docs/caretaker.schema.json', import.meta.url)), 'utf8')) as JsonSchema;
  return walk(schema, '', new Set());
}
