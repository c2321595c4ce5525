// Editors show a key's description while the user types it: every key of docs/caretaker.schema.json gets one of its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { configJsonSchema } from '../../src/agent/config/json-schema.js';
import { duration, size } from '../../src/agent/kit/schema.js';
import { modules } from '../../src/modules/index.js';

interface JsonSchema {
  description?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

/** What kit/schema.ts says of every duration or size: the value's form, not what the key is for. */
const formatOnly = new Set([duration(), size()].map((schema) => z.toJSONSchema(schema, { io: 'input' }).description));

/** Key paths (`probes[].tls.ca`) whose property has no description, or only the generic one of its value's form. */
function undescribed(node: JsonSchema, prefix: string, into: Set<string>): Set<string> {
  for (const variant of [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])]) undescribed(variant, prefix, into);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (!child.description?.trim() || formatOnly.has(child.description)) into.add(path);
    undescribed(child, path, into);
  }
  if (node.items) undescribed(node.items, `${prefix}[]`, into);
  return into;
}

test('every key of the config JSON schema has a description of its own', () => {
  const schema = JSON.parse(configJsonSchema(modules)) as JsonSchema;
  assert.deepEqual([...undescribed(schema, '', new Set())], [], 'keys without .meta({ description }) in their schema');
});

test('the check finds a key without a description, and one with only the generic duration text', () => {
  const schema = z.toJSONSchema(z.strictObject({ plain: z.string(), every: duration(), said: z.string().meta({ description: 'what it is for' }) }), { io: 'input' });
  assert.deepEqual([...undescribed(schema as JsonSchema, '', new Set())], ['plain', 'every']);
});
