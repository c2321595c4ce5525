import { z } from 'zod';
import { httpUrl } from '../../../agent/kit/schema.js';
import { commonChannelFields, type Channel } from './channel.js';
import { httpChannel } from './http.js';
import { renderText } from './render.js';

export const telegramChannelConfig = z.strictObject({
  ...commonChannelFields,
  type: z.literal('telegram').meta({ description: 'telegram: a message from a bot (Bot API sendMessage) to a chat, group or channel' }),
  token: z
    .string({ error: 'missing the bot token (from @BotFather), e.g. ${credential:telegram-bot-token}' })
    .regex(/^\d+:[A-Za-z0-9_-]+$/, { error: 'not a bot token (digits, a colon, then letters, digits, _ or -, as @BotFather gives it)' })
    .meta({ description: 'the bot token from @BotFather; give it with ${credential:NAME} or ${env:NAME} (never shown: it sits in the API path)' }),
  chatId: z
    .union([z.number().int(), z.string().regex(/^(-?\d+|@[A-Za-z0-9_]{4,})$/, { error: 'expected a numeric chat id (e.g. -1001234567890) or @channelname' })], {
      error: 'missing the chat id: the numeric id of the chat or group (e.g. -1001234567890) or @channelname',
    })
    .meta({ description: 'where the bot writes: a numeric chat or group id (e.g. -1001234567890) or @channelname; the bot must be a member' }),
  apiUrl: httpUrl('expected the Bot API server as an http:// or https:// URL')
    .default('https://api.telegram.org')
    .meta({ description: 'the Bot API server (default https://api.telegram.org; a local telegram-bot-api server or a test receiver otherwise)' }),
  silent: z.boolean().default(false).meta({ description: 'send warnings without a notification sound (critical ones always make a sound)' }),
});
export type TelegramChannelConfig = z.output<typeof telegramChannelConfig>;

// Telegram refuses a text longer than 4096 characters.
const TELEGRAM_MAX_CHARS = 4096;

/** Telegram's JSON error: its description says why (chat not found, bot blocked), retry_after how long to wait. */
export function explainTelegram(answer: string): { reason?: string; retryAfterMs?: number } {
  try {
    const parsed = JSON.parse(answer) as { description?: unknown; parameters?: { retry_after?: unknown; migrate_to_chat_id?: unknown } };
    const retryAfter = parsed.parameters?.retry_after;
    const migrated = parsed.parameters?.migrate_to_chat_id;
    const description = typeof parsed.description === 'string' ? parsed.description : undefined;
    return {
      ...(description === undefined ? {} : { reason: migrated === undefined ? description : `${description} (set chatId to ${String(migrated)})` }),
      ...(typeof retryAfter === 'number' ? { retryAfterMs: retryAfter * 1000 } : {}),
    };
  } catch {
    return {};
  }
}

export function createTelegramChannel(config: TelegramChannelConfig): Channel {
  return httpChannel({
    name: config.name,
    type: 'telegram',
    server: config.apiUrl,
    url: `${config.apiUrl.replace(/\/+$/, '')}/bot${config.token}/sendMessage`,
    timeoutMs: config.timeout,
    secrets: [config.token],
    explain: explainTelegram,
    request(notification) {
      const quiet = config.silent && !notification.alerts.some((a) => a.status === 'firing' && a.severity === 'critical');
      // Plain text (no parse_mode): a summary or a pg_dump error full of `_`, `*` and `<` needs no escaping to arrive intact.
      return {
        body: JSON.stringify({
          chat_id: config.chatId,
          text: renderText(notification, { maxChars: TELEGRAM_MAX_CHARS }),
          link_preview_options: { is_disabled: true },
          disable_notification: quiet,
        }),
      };
    },
  });
}
