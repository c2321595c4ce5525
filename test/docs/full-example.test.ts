// examples/full.yaml is the reference the README points to for "every option": this keeps it so.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/agent/config/load.js';
import { modules } from '../../src/modules/index.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { schemaPaths } from './schema-paths.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const example = await readFile(join(root, 'examples', 'full.yaml'), 'utf8');

/** Every key path a parsed YAML document sets. */
function documentPaths(value: unknown, prefix: string, into: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const item of value) documentPaths(item, `${prefix}[]`, into);
  else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      const path = prefix ? `${prefix}.${key}` : key;
      into.add(path);
      documentPaths(child, path, into);
    }
  }
  return into;
}

/** The example with its commented-out options (`# key: value`, `#   key: value`, `# - key: value`) turned on. */
function uncommented(text: string, edit: (option: string) => string = (option) => option): { text: string; lines: number } {
  let lines = 0;
  const out = text.replace(/^([ \t]*)# ([ \t]*(?:- )?[A-Za-z][A-Za-z0-9]*:(?:[ \t].*)?)$/gm, (_line, indent: string, option: string) => {
    lines++;
    return `${indent}${edit(option)}`;
  });
  return { text: out, lines };
}

let dir: TempDir;
before(async () => {
  dir = await makeTempDir('full-example');
});
after(() => dir.cleanup());

test('examples/full.yaml sets every key of the schema (or shows it commented out where it needs a secret or a file)', async () => {
  const present = documentPaths(parseYaml(uncommented(example).text), '', new Set());
  const missing = [...(await schemaPaths())].filter((path) => !present.has(path));
  assert.deepEqual(missing, [], 'keys of docs/caretaker.schema.json absent from examples/full.yaml');
});

test('the options commented out in examples/full.yaml are valid once uncommented', async () => {
  // The files and secrets these options name are the user's: the loader gets stand-ins, so the keys and their values' form are what is checked.
  const standIn = { file: join(dir.path, 'a-file'), directory: join(dir.path, 'a-directory'), webConfig: join(dir.path, 'web-config.yml') };
  await writeFile(standIn.file, '#!/bin/sh\n', { mode: 0o755 });
  await mkdir(standIn.directory);
  for (const tool of ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql']) await writeFile(join(standIn.directory, tool), '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(standIn.webConfig, 'basic_auth_users:\n  prometheus: $2y$10$MJKgxc4VePcSUTOn/UnHaehE.oEqxeiWlRmKmGM.eGVoWrPLBEoNK\n');
  const { text, lines } = uncommented(example, (option) =>
    option
      .replace(/\b(\w+): (\/[\w./+-]+)/g, (_all, key: string) => `${key}: ${key === 'binDir' || key === 'binRoot' ? standIn.directory : key === 'webConfig' ? standIn.webConfig : standIn.file}`)
      // The program of an exec prefix (docker) must be there at load: the stand-in executable is.
      .replace(/\bexec: \[[\w./-]+/, `exec: [${standIn.file}`),
  );
  assert.ok(lines >= 5, `only ${lines} commented options found`);
  const credentials = join(dir.path, 'credentials');
  await mkdir(credentials);
  for (const [, name] of text.matchAll(/\$\{credential:([\w.-]+)\}/g)) await writeFile(join(credentials, name!), 'a-secret-of-enough-length-for-every-key\n');
  const path = join(dir.path, 'full.yaml');
  await writeFile(path, text);
  const config = await loadConfig(path, { modules, environment: { env: {}, credentialsDirectory: credentials } });
  assert.deepEqual([...config.sections.keys()], ['cluster', 'certificates', 'backups', 'probes', 'logs', 'alerts']);
});
