import type { Redis } from 'ioredis';
import { UnsupportedError } from '../../kinds/kind.js';
import { isRefusal } from '../connection.js';
import type { RawArg, RawReply } from './raw.js';

/** Sends commands at once and resolves with their replies in order (a raw socket's, raw.ts). */
export type Sender = (commands: RawArg[][]) => Promise<RawReply[]>;

/** One key as read from a server: its DUMP payload and absolute expiry. */
export interface DumpedKey {
  key: Buffer;
  payload: Buffer;
  /** Absolute, in ms since the epoch; undefined without a TTL. */
  expireAt: number | undefined;
}

export interface ScanOptions {
  /** SCAN's COUNT: keys asked for per SCAN, and so per pipeline of DUMP + PTTL. */
  count: number;
  /** Batches whose replies may be outstanding while the next SCAN runs; bounds memory to about this many batches of values. */
  inFlight: number;
  match?: string;
  signal: AbortSignal;
}

export const SCAN_DEFAULTS = { count: 1000, inFlight: 4 } as const;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * SCAN through the client's current database, `fetch` each batch of keys (pipelined, up to `inFlight` at
 * once) and hand the results to `consume` in order. A key written during the scan may or may not be seen;
 * one seen twice (SCAN may repeat keys across a rehash) is handed over once more and overwrites itself.
 */
export async function scanDatabase<T>(send: Sender, options: ScanOptions, fetch: (keys: Buffer[]) => Promise<T>, consume: (batch: T) => Promise<void>): Promise<void> {
  const pending: Array<Promise<T>> = [];
  const args: RawArg[] = [...(options.match ? ['MATCH', options.match] : []), 'COUNT', options.count];
  let cursor = '0';
  try {
    do {
      options.signal.throwIfAborted();
      const [reply] = await send([['SCAN', cursor, ...args]]);
      if (reply instanceof Error) throw reply;
      const [next, keys] = reply as [Buffer, Buffer[]];
      cursor = next.toString();
      if (keys.length > 0) {
        const batch = fetch(keys);
        // Awaited in order below; a batch that fails while an earlier one is consumed is not an unhandled rejection.
        batch.catch(() => undefined);
        pending.push(batch);
      }
      while (pending.length >= options.inFlight || (cursor === '0' && pending.length > 0)) await consume(await pending.shift()!);
    } while (cursor !== '0');
  } catch (err) {
    if (isRefusal(errorText(err)) && /scan/i.test(errorText(err))) throw new UnsupportedError(`this server refuses SCAN (${errorText(err)})`);
    throw err;
  }
}

/**
 * PTTL of each key, the server's TIME, then DUMP of each key, in one pipeline: the TTLs are read within
 * microseconds of TIME, so their absolute expiry is the server's own (the DUMPs, a large one taking a while,
 * come after). Without TIME, the local clock before sending. Keys gone since the SCAN are left out.
 */
export async function dumpKeys(send: Sender, keys: Buffer[]): Promise<DumpedKey[]> {
  const commands: RawArg[][] = keys.map((key) => ['PTTL', key]);
  commands.push(['TIME']);
  for (const key of keys) commands.push(['DUMP', key]);
  const sentAt = Date.now();
  const replies = await send(commands);
  const time = replies[keys.length];
  const now = Array.isArray(time) ? Number(String(time[0])) * 1000 + Math.floor(Number(String(time[1])) / 1000) : sentAt;
  const out: DumpedKey[] = [];
  keys.forEach((key, i) => {
    const ttl = replies[i];
    const payload = replies[keys.length + 1 + i];
    const err = payload instanceof Error ? payload : ttl instanceof Error ? ttl : undefined;
    if (err) {
      if (err.name !== 'ReplyError') throw err;
      if (isRefusal(err.message)) throw new UnsupportedError(`this server refuses DUMP or PTTL (${err.message}); a logical backup needs SCAN, DUMP and PTTL`);
      throw new Error(`DUMP of key ${JSON.stringify(key.toString('utf8').slice(0, 80))} failed: ${err.message}`, { cause: err });
    }
    if (!Buffer.isBuffer(payload) || typeof ttl !== 'number' || ttl === -2) return;
    out.push({ key, payload, expireAt: ttl > 0 ? now + ttl : undefined });
  });
  return out;
}

/** `db3:keys=2,…` lines of INFO keyspace → the databases that hold keys. */
export function databasesIn(keyspace: string): number[] {
  return [...keyspace.matchAll(/^db(\d+):keys=\d+/gm)].map((m) => Number(m[1]));
}

/**
 * The databases holding keys: from INFO keyspace, or, where INFO is refused, by SELECTing 0, 1, … (until the
 * server says there is no such database) and asking DBSIZE.
 */
export async function databasesWithKeys(client: Redis): Promise<number[]> {
  try {
    return databasesIn(await client.info('keyspace'));
  } catch (err) {
    if (!isRefusal(errorText(err))) throw err;
  }
  const found: number[] = [];
  for (let db = 0; db < 16; db++) {
    try {
      await client.select(db);
    } catch {
      break;
    }
    if ((await client.dbsize()) > 0) found.push(db);
  }
  await client.select(0);
  return found;
}

/** Whether the server is a Redis Cluster node (INFO cluster; a server that refuses INFO counts as not). */
export async function isClusterNode(client: Redis): Promise<boolean> {
  return /^cluster_enabled:1/m.test(await client.info('cluster').catch(() => ''));
}
