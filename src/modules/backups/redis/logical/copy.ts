import type { Redis } from 'ioredis';
import { redisAddress, type RedisTarget } from '../../../../agent/kit/redis.js';
import { openRedis } from '../connection.js';
import { copyByType } from './by-type.js';
import { RawCommands } from './raw.js';
import { dumpKeys, isClusterNode, scanDatabase, SCAN_DEFAULTS } from './scan.js';
import { KeyWriter, type WriteCounts } from './writer.js';

export interface CopyOptions {
  match?: string;
  /** Count what would be copied and what is already on the target; write nothing. */
  dryRun: boolean;
  /** Overwrite keys the target has; otherwise they are left alone and counted. */
  replace: boolean;
  maxRequestBytes: number;
  signal: AbortSignal;
  /** After each batch: keys seen on the source and DUMP bytes read so far. */
  onProgress?(keys: number, bytes: number): void;
}

export interface CopyResult {
  /** Keys the SCAN of the source found (and that still existed when read). */
  scanned: number;
  /** A dry run: keys that would be written. */
  wouldCopy: number;
  counts: WriteCounts;
  failures: string[];
}

async function countExisting(target: Redis, keys: Buffer[]): Promise<number> {
  const check = target.pipeline();
  for (const key of keys) check.exists(key);
  let existing = 0;
  for (const [err, n] of (await check.exec()) ?? []) {
    if (err) throw err;
    existing += Number(n);
  }
  return existing;
}

/** A raw connection on the URL's database. */
async function openRaw(target: RedisTarget, signal: AbortSignal): Promise<RawCommands> {
  const raw = await RawCommands.open(target, signal);
  try {
    if (target.db !== undefined && target.db !== 0) await raw.select(target.db);
    return raw;
  } catch (err) {
    raw.close();
    throw err;
  }
}

/**
 * `caretaker redis copy`: every key of the source URL's database (matching `match`) into the target URL's
 * database with the logical engine: SCAN + PTTL + DUMP from the source, RESTORE … ABSTTL into the target,
 * and where the target refuses a payload the key is read from the source by type. Not a point in time.
 */
export async function copyKeys(from: RedisTarget, to: RedisTarget, options: CopyOptions): Promise<CopyResult> {
  const { signal } = options;
  const source = await openRedis(from, signal);
  const raws: RawCommands[] = [];
  try {
    const destination = await openRedis(to, signal);
    try {
      const result: CopyResult = { scanned: 0, wouldCopy: 0, counts: { restored: 0, byType: 0, existing: 0, failed: 0 }, failures: [] };
      for (const [connection, url] of [[source, from], [destination, to]] as const) {
        if (await isClusterNode(connection.client)) throw new Error(`${redisAddress(url)} is a Redis Cluster node: redis copy does not route keys to a cluster's nodes yet`);
      }
      // SCAN, DUMP and RESTORE go on sockets of their own, as for a backup and a restore (raw.ts); the clients
      // serve the checks and the type-based copies.
      const [reading, writing] = await Promise.all([openRaw(from, signal), openRaw(to, signal)]);
      raws.push(reading, writing);
      const writer = new KeyWriter(destination.client, {
        replace: options.replace,
        maxRequestBytes: options.maxRequestBytes,
        copyByType: (entry) => copyByType(source.client, destination.client, entry.key, { maxRequestBytes: options.maxRequestBytes, expireAt: entry.expireAt }),
        send: (commands) => writing.errors(commands),
      });
      let bytes = 0;
      const scan = { ...SCAN_DEFAULTS, match: options.match, signal };
      const fromSource = reading.send.bind(reading);
      if (options.dryRun) {
        await scanDatabase(
          fromSource,
          scan,
          async (keys) => ({ keys: keys.length, existing: options.replace ? 0 : await countExisting(destination.client, keys) }),
          async ({ keys, existing }) => {
            result.scanned += keys;
            result.counts.existing += existing;
            result.wouldCopy += keys - existing;
            options.onProgress?.(result.scanned, 0);
          },
        );
        return result;
      }
      await scanDatabase(
        fromSource,
        scan,
        (keys) => dumpKeys(fromSource, keys),
        async (batch) => {
          result.scanned += batch.length;
          for (const entry of batch) bytes += entry.payload.length;
          await writer.addAll(batch);
          options.onProgress?.(result.scanned, bytes);
        },
      );
      await writer.flush();
      return { ...result, counts: writer.counts, failures: writer.failures };
    } catch (err) {
      // "Connection is closed" says nothing of which side: the one no longer ready is named.
      throw (source.client.status !== 'ready' && destination.client.status === 'ready' ? source : destination).explain(err);
    } finally {
      destination.close();
      for (const raw of raws) raw.close();
    }
  } catch (err) {
    throw source.explain(err);
  } finally {
    source.close();
  }
}
