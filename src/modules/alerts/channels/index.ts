import { z } from 'zod';
import type { Channel } from './channel.js';
import { createEmailChannel, emailChannelConfig, type EmailChannelConfig } from './email.js';
import { createNtfyChannel, ntfyChannelConfig, type NtfyChannelConfig } from './ntfy.js';
import { createSlackChannel, slackChannelConfig, type SlackChannelConfig } from './slack.js';
import { createTelegramChannel, telegramChannelConfig, type TelegramChannelConfig } from './telegram.js';
import { createWebhookChannel, webhookChannelConfig, type WebhookChannelConfig } from './webhook.js';

/** One entry of `alerts.channels`, told apart by `type`. */
export const channelSchema = z.discriminatedUnion('type', [webhookChannelConfig, slackChannelConfig, telegramChannelConfig, ntfyChannelConfig, emailChannelConfig], {
  error: 'unknown channel type: expected webhook, slack, telegram, ntfy or email',
});
export type ChannelConfig = z.output<typeof channelSchema>;

interface Factories {
  webhook(config: WebhookChannelConfig): Channel;
  slack(config: SlackChannelConfig): Channel;
  telegram(config: TelegramChannelConfig): Channel;
  ntfy(config: NtfyChannelConfig): Channel;
  email(config: EmailChannelConfig): Channel;
}

const factories: Factories = {
  webhook: createWebhookChannel,
  slack: createSlackChannel,
  telegram: createTelegramChannel,
  ntfy: createNtfyChannel,
  email: createEmailChannel,
};

/** A channel from its validated config; wires only (no I/O until `send`). */
export function createChannel(config: ChannelConfig): Channel {
  return (factories[config.type] as (config: ChannelConfig) => Channel)(config);
}
