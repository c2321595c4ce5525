import { z } from 'zod';
import { httpUrl } from '../../../agent/kit/schema.js';
import { commonChannelFields, type Channel } from './channel.js';
import { httpChannel, urlSecrets } from './http.js';
import { renderText } from './render.js';

export const slackChannelConfig = z.strictObject({
  ...commonChannelFields,
  type: z.literal('slack').meta({ description: 'slack: a Slack incoming webhook (the app posts into the channel the webhook was made for)' }),
  url: httpUrl('expected the incoming webhook URL, an http:// or https:// URL (https://hooks.slack.com/services/...)').meta({
    description: 'the incoming webhook URL; its path is the token, so it is a secret even when written literally (shown as scheme://host only)',
  }),
});
export type SlackChannelConfig = z.output<typeof slackChannelConfig>;

/** Slack reads `&`, `<` and `>` in text as markup (links, mentions); these three are escaped, nothing else. */
export function slackEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

// Slack truncates `text` past 40,000 characters; a shorter message stays readable on a phone.
const SLACK_MAX_CHARS = 4000;

export function createSlackChannel(config: SlackChannelConfig): Channel {
  return httpChannel({
    name: config.name,
    type: 'slack',
    server: config.url,
    url: config.url,
    timeoutMs: config.timeout,
    secrets: urlSecrets(config.url),
    request: (notification) => ({ body: JSON.stringify({ text: slackEscape(renderText(notification, { maxChars: SLACK_MAX_CHARS })) }) }),
  });
}
