import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const channels = fileURLToPath(new URL('../../../../src/modules/alerts/channels/index.ts', import.meta.url));

// nodemailer is CommonJS: once loaded, even through import(), its files are in require.cache.
const SCRIPT = `
import { createRequire } from 'node:module';
const { channelSchema, createChannel } = await import(${JSON.stringify(channels)});
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes('/node_modules/nodemailer/'));
const channel = createChannel(channelSchema.parse({ name: 'm', type: 'email', host: '127.0.0.1', port: 1, from: 'a@example.com', to: ['b@example.com'], timeout: '1s' }));
const before = loaded();
await channel.send({ status: 'firing', host: 'h', alerts: [] }, AbortSignal.timeout(5000)).catch(() => {});
console.log(JSON.stringify({ before, after: loaded() }));
`;

test('nodemailer is loaded at the first email, not when the channel is created', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { timeout: 60_000 });
  assert.deepEqual(JSON.parse(stdout), { before: false, after: true });
});
