import { writeFile } from 'node:fs/promises';
import { configJsonSchema } from '../src/agent/config/json-schema.js';
import { modules } from '../src/modules/index.js';

/** Regenerates docs/caretaker.schema.json from the config schema (`npm run schema`); a test fails when it is stale. */
const target = new URL('../docs/caretaker.schema.json', import.meta.url);
await writeFile(target, configJsonSchema(modules));
process.stdout.write(`wrote ${target.pathname}\n`);
