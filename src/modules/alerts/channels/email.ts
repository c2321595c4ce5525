import { z } from 'zod';
import { tlsClient, tlsConnectOptions } from '../../../agent/kit/tls.js';
import { commonChannelFields, DeliveryError, type Channel } from './channel.js';
import { renderEmail } from './render.js';

// `Name <user@host>` or `user@host`: checked only as far as a typo shows; the SMTP server has the last word.
const address = z
  .string({ error: 'expected an email address' })
  .regex(/^([^<>]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/, { error: 'expected an email address such as ops@example.com or "Ops <ops@example.com>"' });

export const emailChannelConfig = z
  .strictObject({
    ...commonChannelFields,
    type: z.literal('email').meta({ description: 'email: a plain-text message over SMTP (STARTTLS or implicit TLS, with AUTH)' }),
    host: z.string({ error: 'missing the SMTP server host name' }).min(1).meta({ description: 'the SMTP server (submission server of the mail provider, or a local MTA)' }),
    port: z.number().int().min(1).max(65535).optional().meta({ description: 'SMTP port; default 465 with secure: true, otherwise 587 (submission)' }),
    secure: z.boolean().default(false).meta({ description: 'implicit TLS from the first byte (port 465); false uses STARTTLS on a plain connection' }),
    requireTls: z
      .boolean()
      .default(true)
      .meta({ description: 'without secure: refuse to send unless the server upgrades with STARTTLS (default true); false sends in clear text to a server without TLS (a local MTA on 25)' }),
    tls: tlsClient().default({ verify: true }).meta({ description: 'server certificate check: verify, ca (a PEM file for a private CA), serverName' }),
    auth: z
      .strictObject({
        user: z.string().min(1).meta({ description: 'SMTP user name' }),
        password: z.string().min(1).meta({ description: 'SMTP password; give it with ${credential:NAME}, ${env:NAME} or ${file:/path} (never shown)' }),
      })
      .optional()
      .meta({ description: 'SMTP AUTH (PLAIN or LOGIN, as the server offers); left out for a server that relays without it' }),
    from: address.meta({ description: 'the From address, e.g. "caretaker <caretaker@example.com>"' }),
    to: z
      .array(address, { error: 'missing the recipients: to is a list of addresses, e.g. [ops@example.com]' })
      .min(1, { error: 'name at least one recipient' })
      .meta({ description: 'recipients, one or more addresses' }),
  })
  .superRefine((email, ctx) => {
    if (email.auth && !email.secure && !email.requireTls) {
      ctx.addIssue({ code: 'custom', path: ['requireTls'], message: 'AUTH without TLS would send the password in clear: keep requireTls true or set secure: true' });
    }
  });
export type EmailChannelConfig = z.output<typeof emailChannelConfig>;

/** Connection-level failures worth another try; TLS verification and refusals are not. */
const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS']);
const TLS_PROBLEM = /certificate|altname|self[- ]signed|unable to verify|wrong version number|ssl|tls/i;

interface SmtpError {
  code?: string;
  responseCode?: number;
  message?: string;
}

/** A nodemailer failure as a DeliveryError: 4xx replies and network trouble retryable, 5xx, AUTH and TLS problems final. */
export function classifySmtpError(err: unknown, target: string, secrets: string[]): DeliveryError {
  const { code, responseCode, message = String(err) } = (err ?? {}) as SmtpError;
  let text = message.replace(/\s+/g, ' ').trim().slice(0, 300);
  for (const secret of secrets) if (secret.length >= 4) text = text.split(secret).join('***');
  if (code === 'EAUTH') {
    const temporary = responseCode !== undefined && responseCode >= 400 && responseCode < 500;
    return new DeliveryError(`${target}: SMTP authentication refused (${text}); check auth.user and auth.password`, temporary);
  }
  if (code === 'ETLS' || TLS_PROBLEM.test(text)) {
    return new DeliveryError(`${target}: TLS failed (${text}); check tls.ca, tls.serverName, secure and requireTls`, false);
  }
  if (responseCode !== undefined) return new DeliveryError(`${target}: SMTP server refused the message (${text})`, responseCode < 500);
  return new DeliveryError(`${target}: ${text}`, code === undefined || TRANSIENT_CODES.has(code));
}

export function createEmailChannel(config: EmailChannelConfig): Channel {
  const port = config.port ?? (config.secure ? 465 : 587);
  const target = `${config.secure ? 'smtps' : 'smtp'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const secrets = config.auth ? [config.auth.password, Buffer.from(`\0${config.auth.user}\0${config.auth.password}`).toString('base64')] : [];
  return {
    name: config.name,
    type: 'email',
    target,
    async send(notification, signal) {
      // Loaded at the first email, not at start: an agent with no email channel never pays for nodemailer.
      const { createTransport } = (await import('nodemailer')).default;
      const { subject, text } = renderEmail(notification);
      // nodemailer's timeouts bound each phase (connect, greeting, each reply); this bounds the whole attempt.
      const timeout = AbortSignal.timeout(config.timeout);
      const stop = AbortSignal.any([signal, timeout]);
      let transport: ReturnType<typeof createTransport> | undefined;
      let onAbort = () => {};
      try {
        transport = createTransport({
          host: config.host,
          port,
          secure: config.secure,
          requireTLS: !config.secure && config.requireTls,
          tls: await tlsConnectOptions(config.tls, config.host),
          ...(config.auth ? { auth: { user: config.auth.user, pass: config.auth.password } } : {}),
          connectionTimeout: config.timeout,
          greetingTimeout: config.timeout,
          socketTimeout: config.timeout,
          dnsTimeout: config.timeout,
          // nodemailer's own logger would print the SMTP conversation, AUTH included.
          logger: false,
          debug: false,
        });
        const aborted = new Promise<never>((_, reject) => {
          onAbort = () => reject(new DeliveryError(timeout.aborted ? `${target}: no answer within ${config.timeout} ms` : `${target}: delivery aborted`, true));
          if (stop.aborted) onAbort();
          else stop.addEventListener('abort', onAbort, { once: true });
        });
        await Promise.race([transport.sendMail({ from: config.from, to: config.to, subject, text }), aborted]);
      } catch (err) {
        throw err instanceof DeliveryError ? err : classifySmtpError(err, target, secrets);
      } finally {
        stop.removeEventListener('abort', onAbort);
        transport?.close();
      }
    },
  };
}
