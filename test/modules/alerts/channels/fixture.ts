import assert from 'node:assert/strict';
import { DeliveryError, type AlertLine, type Notification } from '../../../../src/modules/alerts/channels/channel.js';
import { channelSchema, createChannel } from '../../../../src/modules/alerts/channels/index.js';

export const redisDown: AlertLine = {
  key: 'probe:redis:down',
  module: 'probes',
  item: 'redis',
  severity: 'critical',
  summary: 'redis down',
  detail: 'connect ECONNREFUSED 127.0.0.1:6379',
  status: 'firing',
  startsAt: '2026-12-01T11:00:00.000Z',
};

export const diskLow: AlertLine = {
  key: 'host:fs:/var',
  module: 'alerts',
  severity: 'warning',
  summary: '/var has 8 % free',
  detail: '8.1 % of 20 GiB free (threshold 10 %)',
  status: 'firing',
  startsAt: '2026-12-01T11:00:05.000Z',
};

export function firing(...alerts: AlertLine[]): Notification {
  return { status: 'firing', host: 'web1', alerts };
}

export function resolved(...alerts: AlertLine[]): Notification {
  return { status: 'resolved', host: 'web1', alerts: alerts.map((a) => ({ ...a, status: 'resolved', endsAt: '2026-12-01T11:05:00.000Z' })) };
}

/** A channel from a raw config entry, validated as at load. */
export function channelFrom(entry: Record<string, unknown>) {
  return createChannel(channelSchema.parse(entry));
}

export const signal = () => AbortSignal.timeout(30_000);

/** The DeliveryError a send must end with. */
export async function failure(promise: Promise<void>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `not a DeliveryError: ${String(err)}`);
    return err;
  }
  assert.fail('delivered, but a failure was expected');
}
