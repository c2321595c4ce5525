import { createHash } from 'node:crypto';
import { z } from 'zod';
import { httpUrl } from '../../../agent/kit/schema.js';
import { commonChannelFields, type AlertLine, type Channel, type Notification } from './channel.js';
import { httpChannel, urlSecrets } from './http.js';
import { renderTitle, topSeverity } from './render.js';

export const webhookChannelConfig = z.strictObject({
  ...commonChannelFields,
  type: z.literal('webhook').meta({ description: 'webhook: a JSON POST to any URL (caretaker JSON, or Alertmanager webhook payload version 4)' }),
  url: httpUrl('expected the receiver URL as http:// or https://').meta({
    description: 'where the JSON is POSTed; a secret even when written literally (logs and answers show scheme://host only)',
  }),
  format: z
    .enum(['caretaker', 'alertmanager'])
    .default('caretaker')
    .meta({ description: "body format: caretaker (status, host and an alerts array) or alertmanager (Alertmanager's webhook payload version 4, for receivers built for it)" }),
  headers: z
    .record(
      z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, { error: 'not a valid header name' }),
      z.string().regex(/^[^\r\n\0]*$/, { error: 'a header value is one line' }),
    )
    .default({})
    .meta({ description: 'extra request headers, e.g. Authorization: Bearer ${credential:hook-token}' }),
});
export type WebhookChannelConfig = z.output<typeof webhookChannelConfig>;

/** caretaker's own body: the notification as it is, one `alerts` entry per condition. */
export function caretakerBody(notification: Notification): object {
  return {
    version: '1',
    status: notification.status,
    host: notification.host,
    severity: topSeverity(notification),
    summary: renderTitle(notification),
    test: notification.test === true,
    alerts: notification.alerts.map((alert) => ({
      status: alert.status,
      key: alert.key,
      module: alert.module,
      ...(alert.item === undefined ? {} : { item: alert.item }),
      severity: alert.severity,
      summary: alert.summary,
      detail: alert.detail,
      startsAt: alert.startsAt,
      ...(alert.endsAt === undefined ? {} : { endsAt: alert.endsAt }),
    })),
  };
}

/** Alertmanager's "zero" time, which its receivers read as "not ended". */
const NOT_ENDED = '0001-01-01T00:00:00Z';

/** Alertmanager's webhook payload version 4 (prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
export function alertmanagerBody(notification: Notification, receiver: string): object {
  const alerts = notification.alerts.map((alert) => {
    const labels = alertLabels(alert, notification);
    return {
      status: alert.status,
      labels,
      annotations: { summary: alert.summary, description: alert.detail },
      startsAt: alert.startsAt,
      endsAt: alert.endsAt ?? NOT_ENDED,
      generatorURL: '',
      fingerprint: fingerprint(labels),
    };
  });
  const groupLabels = { instance: notification.host };
  return {
    version: '4',
    groupKey: `{}:{instance="${notification.host}"}`,
    truncatedAlerts: 0,
    status: notification.status,
    receiver,
    groupLabels,
    commonLabels: common(alerts.map((a) => a.labels)),
    commonAnnotations: common(alerts.map((a) => a.annotations)),
    externalURL: '',
    alerts,
  };
}

function alertLabels(alert: AlertLine, notification: Notification): Record<string, string> {
  return {
    alertname: alert.key,
    severity: alert.severity,
    module: alert.module,
    instance: notification.host,
    ...(alert.item === undefined ? {} : { item: alert.item }),
    ...(notification.test ? { test: 'true' } : {}),
  };
}

/** The pairs every alert of the group shares, as Alertmanager computes commonLabels and commonAnnotations. */
function common(sets: Array<Record<string, string>>): Record<string, string> {
  const [first, ...rest] = sets;
  if (first === undefined) return {};
  return Object.fromEntries(Object.entries(first).filter(([name, value]) => rest.every((set) => set[name] === value)));
}

/** 16 hex digits from the sorted labels, stable for one condition on one host (Alertmanager's is a label hash too). */
function fingerprint(labels: Record<string, string>): string {
  const text = Object.keys(labels)
    .sort()
    .map((name) => `${name}=${labels[name]}`)
    .join('\xff');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function createWebhookChannel(config: WebhookChannelConfig): Channel {
  return httpChannel({
    name: config.name,
    type: 'webhook',
    server: config.url,
    url: config.url,
    timeoutMs: config.timeout,
    secrets: [...urlSecrets(config.url), ...Object.values(config.headers)],
    request: (notification) => ({
      body: JSON.stringify(config.format === 'alertmanager' ? alertmanagerBody(notification, config.name) : caretakerBody(notification)),
      headers: config.headers,
    }),
  });
}
