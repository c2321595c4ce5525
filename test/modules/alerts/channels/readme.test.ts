import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { channelSchema } from '../../../../src/modules/alerts/channels/index.js';
import { caretakerBody } from '../../../../src/modules/alerts/channels/webhook.js';
import { diskLow, firing, redisDown } from './fixture.js';

const readme = await readFile(new URL('../../../../src/modules/alerts/channels/README.md', import.meta.url), 'utf8');

/** The agent expands references before validation; each stands in with a value of the shape its key wants. */
const STAND_INS: Record<string, string> = {
  'alert-webhook-url': 'https://hooks.example.com/T/abc',
  'slack-webhook-url': 'https://hooks.slack.com/services/T0/B0/abc',
  'telegram-bot-token': '123456:AAbcdef',
};

test('every yaml example in the channels README is a valid channel, one per type', () => {
  const snippets = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) =>
    match[1]!
      .replace(/\$\{credential:([^}]*)\}/g, (_, name: string) => STAND_INS[name] ?? 'secret')
      // The CA file must exist at load; the example's exists only on a real server.
      .replaceAll('/etc/caretaker/smtp-ca.pem', fileURLToPath(import.meta.url)),
  );
  const types = snippets.map((snippet) => {
    const [entry] = parse(snippet) as unknown[];
    const result = channelSchema.safeParse(entry);
    assert.ok(result.success, `${snippet}\n${JSON.stringify(result.error?.issues)}`);
    return result.data.type;
  });
  assert.deepEqual(types, ['webhook', 'slack', 'telegram', 'ntfy', 'email']);
});

test("the README's webhook body is what the channel sends", () => {
  const documented = JSON.parse(/```json\n([\s\S]*?)```/.exec(readme)![1]!);
  assert.deepEqual(caretakerBody(firing(redisDown, diskLow)), documented);
});
