import { z } from 'zod';
import { httpUrl } from '../../../agent/kit/schema.js';
import { commonChannelFields, type Channel, type Notification } from './channel.js';
import { httpChannel } from './http.js';
import { renderText, renderTitle, topSeverity } from './render.js';

export const ntfyChannelConfig = z.strictObject({
  ...commonChannelFields,
  type: z.literal('ntfy').meta({ description: 'ntfy: a push notification through an ntfy server (ntfy.sh or your own)' }),
  server: httpUrl('expected the ntfy server as an http:// or https:// URL')
    .default('https://ntfy.sh')
    .meta({ description: 'the ntfy server (default https://ntfy.sh)' }),
  topic: z
    .string({ error: 'missing the topic the phone subscribes to' })
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'a topic is 1-64 letters, digits, _ or -' })
    .meta({ description: 'the topic; on a public server anyone who knows it can read it, so it is treated as a secret (not shown)' }),
  token: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'access token (tk_...) for a protected topic, sent as Authorization: Bearer; give it with ${credential:NAME}' }),
});
export type NtfyChannelConfig = z.output<typeof ntfyChannelConfig>;

// ntfy turns a message over 4096 bytes into an attachment; Cyrillic or emoji take two to four bytes a character.
const NTFY_MAX_CHARS = 1300;

/** ntfy priorities: 5 (urgent) for critical, 4 (high) for a warning, 3 (default) when everything resolved. */
export function ntfyHeaders(notification: Notification): Record<string, string> {
  const firing = notification.status === 'firing';
  const severity = topSeverity(notification);
  return {
    Title: encodeHeader(renderTitle(notification)),
    Priority: !firing ? '3' : severity === 'critical' ? '5' : '4',
    Tags: !firing ? 'white_check_mark' : severity === 'critical' ? 'rotating_light' : 'warning',
  };
}

/** A header value is Latin-1 on the wire; anything else goes as RFC 2047 UTF-8, which ntfy decodes. */
function encodeHeader(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

export function createNtfyChannel(config: NtfyChannelConfig): Channel {
  return httpChannel({
    name: config.name,
    type: 'ntfy',
    server: config.server,
    url: `${config.server.replace(/\/+$/, '')}/${config.topic}`,
    timeoutMs: config.timeout,
    secrets: [config.topic, ...(config.token === undefined ? [] : [config.token])],
    request: (notification) => ({
      body: renderText(notification, { maxChars: NTFY_MAX_CHARS, title: false }),
      headers: {
        'content-type': 'text/plain; charset=utf-8',
        ...ntfyHeaders(notification),
        ...(config.token === undefined ? {} : { Authorization: `Bearer ${config.token}` }),
      },
    }),
  });
}
