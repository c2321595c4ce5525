import { hostname } from 'node:os';
import { ApiError, DaemonUnreachableError, EXIT, formatTable, isNotConfigured, type CliCommand, type CommandContext } from '../../agent/kit/cli.js';
import type { AlertsAnswer } from './answers.js';
import type { Notification } from './channels/channel.js';
import { createChannel } from './channels/index.js';
import type { AlertsConfig } from './config.js';

/** A test message waits at most this long for the channel (one attempt, no retries: the person is watching). */
const TEST_TIMEOUT_MS = 30_000;

async function list(ctx: CommandContext): Promise<number> {
  let answer: AlertsAnswer;
  try {
    answer = await ctx.client.get<AlertsAnswer>('/alerts');
  } catch (err) {
    if (err instanceof DaemonUnreachableError || err instanceof ApiError) {
      ctx.err(err.message);
      return err instanceof DaemonUnreachableError ? EXIT.unavailable : isNotConfigured(err) ? EXIT.config : EXIT.failure;
    }
    throw err;
  }
  if (ctx.json) {
    ctx.out(JSON.stringify(answer, null, 2));
  } else {
    ctx.out(answer.firing.length === 0 ? 'nothing firing' : formatTable(['SEVERITY', 'KEY', 'SINCE', 'SUMMARY'], answer.firing.map((f) => [f.severity, f.key, f.startsAt, f.summary])));
    ctx.out('');
    ctx.out(
      formatTable(
        ['CHANNEL', 'TYPE', 'TARGET', 'QUEUED', 'LAST DELIVERY', 'RESULT', 'ERROR'],
        answer.channels.map((c) => [c.name, c.type, c.target, String(c.queued), c.lastDelivery?.at ?? 'never', c.lastDelivery?.result ?? '-', c.lastDelivery?.error ?? '']),
      ),
    );
    if (answer.heartbeat) {
      const ping = answer.heartbeat.lastPing;
      ctx.out(`\nheartbeat ${answer.heartbeat.target}: ${ping ? `${ping.ok ? 'ok' : `FAILED (${ping.error ?? ''})`} at ${ping.at}` : 'not pinged yet'}`);
    }
  }
  return answer.firing.length > 0 ? EXIT.failure : EXIT.ok;
}

/** Sends one test message straight from the CLI with the config file: works with the daemon stopped. */
async function sendTest(ctx: CommandContext, name: string): Promise<number> {
  const config = (await ctx.loadSection()) as AlertsConfig | undefined;
  if (config === undefined) {
    ctx.err('the config has no alerts section: add alerts.channels (see src/modules/alerts/README.md)');
    return EXIT.config;
  }
  const channelConfig = config.channels.find((c) => c.name === name);
  if (!channelConfig) {
    ctx.err(`no channel named '${name}' (alerts.channels has: ${config.channels.map((c) => c.name).join(', ')})`);
    return EXIT.usage;
  }
  const channel = createChannel(channelConfig);
  const now = new Date().toISOString();
  const notification: Notification = {
    status: 'firing',
    host: hostname(),
    test: true,
    alerts: [
      {
        key: 'alerts:test:message',
        module: 'alerts',
        severity: 'warning',
        summary: `test message from caretaker on ${hostname()} to channel ${name}`,
        detail: 'sent by `caretaker alerts test`; nothing is wrong',
        status: 'firing',
        startsAt: now,
      },
    ],
  };
  try {
    await channel.send(notification, AbortSignal.timeout(TEST_TIMEOUT_MS));
    ctx.out(ctx.json ? JSON.stringify({ channel: name, target: channel.target, delivered: true }) : `test message delivered to ${name} (${channel.target})`);
    return EXIT.ok;
  } catch (err) {
    const message = (err as Error).message;
    if (ctx.json) ctx.out(JSON.stringify({ channel: name, target: channel.target, delivered: false, error: message }));
    else ctx.err(`${name}: ${message}`);
    return EXIT.failure;
  } finally {
    await channel.close?.().catch(() => undefined);
  }
}

/** `caretaker alerts` shows what fires and the deliveries; `caretaker alerts test CHANNEL` sends a test message. */
export const alertsCommand: CliCommand = {
  name: 'alerts',
  summary: 'show firing conditions and deliveries per channel, or send a test message to a channel',
  usage: 'caretaker alerts [test CHANNEL] [--json]',
  async run(ctx) {
    const [sub, name, ...extra] = ctx.args;
    if (sub === undefined) return list(ctx);
    if (sub === 'test' && name !== undefined && extra.length === 0) return sendTest(ctx, name);
    ctx.err(`usage: ${alertsCommand.usage}`);
    return EXIT.usage;
  },
};
