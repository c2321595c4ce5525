import { z } from 'zod';
import type { AnyModuleSpec } from '../kit/module.js';
import { buildConfigSchema } from './schema.js';

/** The JSON Schema of the config file as a user writes it (durations and sizes as strings), for editors. */
export function configJsonSchema(modules: readonly AnyModuleSpec[]): string {
  const schema = z.toJSONSchema(buildConfigSchema(modules), { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
  return `${JSON.stringify({ ...schema, title: 'caretaker.yaml', $id: 'https://caretaker.invalid/caretaker.schema.json' }, null, 2)}\n`;
}
