import type { Redis } from 'ioredis';
import { describeError } from '../../agent/kit/errors.js';
import type { SentinelConfig } from '../../agent/kit/redis-schema.js';
import { parseListen } from '../../agent/kit/schema.js';


export interface MasterAddress {
  host: string;
  port: number;
}

/**
 * No sentinel gave the master's address. The message names the master and each sentinel's failure;
 * `errors` keeps those failures as they were, so their codes and replies can still be classified.
 */
export class SentinelError extends AggregateError {}

/** Opens a connection to one sentinel that fails fast and never reconnects; the caller owns its options. */
export type OpenSentinel = (host: string, port: number, password: string | undefined) => Redis;

/**
 * Asks every sentinel at once for the master's address (a hung sentinel must not hide a healthy one)
 * and closes every sentinel connection before it returns, or as soon as `signal` aborts.
 */
export async function resolveMaster(sentinel: SentinelConfig, open: OpenSentinel, signal: AbortSignal): Promise<MasterAddress> {
  signal.throwIfAborted();
  const clients: Redis[] = [];
  const closeAll = () => {
    for (const client of clients) client.disconnect();
  };
  signal.addEventListener('abort', closeAll, { once: true });

  const ask = async (address: string): Promise<MasterAddress> => {
    const { host, port } = parseListen(address) as { host: string; port: number };
    const client = open(host, port, sentinel.password);
    clients.push(client);
    // The connection's own error (refused, WRONGPASS) says more than the "Connection is closed" commands get.
    let connectionError: Error | undefined;
    client.on('error', (err: Error) => {
      connectionError ??= err;
    });
    try {
      await client.connect();
      const reply = await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', sentinel.master);
      // An unknown name is answered with nil, not an error.
      if (reply === null) throw new Error('the sentinel monitors no master of that name');
      if (!Array.isArray(reply) || reply.length !== 2) throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
      return { host: String(reply[0]), port: Number(reply[1]) };
    } catch (err) {
      throw connectionError ?? err;
    }
  };

  try {
    return await Promise.any(sentinel.addresses.map(ask));
  } catch (err) {
    const errors = err instanceof AggregateError ? err.errors : [err];
    throw new SentinelError(errors, failureMessage(sentinel, errors));
  } finally {
    signal.removeEventListener('abort', closeAll);
    closeAll();
  }
}

function failureMessage(sentinel: SentinelConfig, errors: unknown[]): string {
  if (sentinel.addresses.length === 1) {
    return `asking sentinel ${sentinel.addresses[0]} for master '${sentinel.master}': ${describeError(errors[0])}`;
  }
  const each = sentinel.addresses.map((address, i) => `${address}: ${describeError(errors[i])}`);
  return `asking sentinels for master '${sentinel.master}': ${each.join('; ')}`;
}
