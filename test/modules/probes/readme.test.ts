import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parse } from 'yaml';
import { configSchema } from '../../../src/modules/probes/config.js';
import { SERIES_KEYS } from '../../../src/modules/probes/metrics.js';
import { REASONS } from '../../../src/modules/probes/kinds/kind.js';
import { fileURLToPath } from 'node:url';

const readme = await readFile(new URL('../../../src/modules/probes/README.md', import.meta.url), 'utf8');

test('the README config snippet is a valid probes section', () => {
  // The agent expands ${env:...} and friends before validation; stand in for it.
  const snippet = /```yaml\n([\s\S]*?)```/.exec(readme)![1]!.replace(/\$\{(env|file|credential):[^}]*\}/g, 'secret')
    // The CA file must exist when the config is loaded; the snippet's exists only on a real server.
    .replaceAll('/etc/ssl/private-ca.pem', fileURLToPath(import.meta.url));
  const section = (parse(snippet) as { probes: unknown }).probes;
  const result = configSchema.safeParse(section);
  assert.ok(result.success, JSON.stringify(result.error?.issues));
  assert.deepEqual(result.data.map((p) => p.type), ['redis', 'postgres', 'http', 'tcp']);
});

test('the README documents every reason and every kind-specific metric', () => {
  for (const reason of REASONS) assert.ok(readme.includes(`| \`${reason}\` |`), reason);
  for (const name of SERIES_KEYS) {
    const kind = name.split('_')[2];
    const documented = readme.includes(name) || readme.includes(name.split(`caretaker_probe_${kind}`)[1]!);
    assert.ok(documented, name);
  }
});
