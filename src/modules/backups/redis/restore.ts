import { tmpdir } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisTarget } from '../../../agent/kit/redis.js';
import { openRedis } from './connection.js';
import { databaseMap } from './database-map.js';
import { isLogicalFile } from './logical/format.js';
import { loadLogicalInto } from './logical/restore.js';
import { databasesIn } from './logical/scan.js';
import { startRedisServerOn, type ScratchServer } from './scratch.js';

const BATCH = 500;

/**
 * A throwaway redis-server on a unix socket in a new directory under `parent` holding the backup's keys, so
 * they can be read back: it loads an RDB file itself, a logical file is RESTOREd into it.
 */
export async function startScratchServer(file: string, signal: AbortSignal, parent = tmpdir()): Promise<ScratchServer> {
  if (!(await isLogicalFile(file))) return startRedisServerOn(file, signal, parent);
  const scratch = await startRedisServerOn(undefined, signal, parent);
  try {
    await loadLogicalInto(file, scratch, signal);
    return scratch;
  } catch (err) {
    await scratch.dispose();
    throw err;
  }
}

/**
 * Restores an RDB file into a running server: a scratch redis-server loads the file, then every key moves
 * over with DUMP / RESTORE … REPLACE and its remaining TTL. Works for remote and managed targets alike;
 * keys absent from the backup are left alone. With `into`, the backup's one database goes into that
 * database of the target instead of its own number.
 */
export async function restoreRdbInto(file: string, target: RedisTarget, into: number | undefined, signal: AbortSignal, log: Logger): Promise<number> {
  // The target first: a wrong URL or password fails before a scratch server loads a large file.
  const destination = await openRedis(target, signal);
  let moved = 0;
  try {
    const scratch = await startRedisServerOn(file, signal);
    try {
      for (const [from, to] of databaseMap(databasesIn(await scratch.client.info('keyspace')), into, target)) {
        await scratch.client.select(from);
        await destination.client.select(to);
        moved += await copyDatabase(scratch.client, destination.client, signal);
        log.debug({ from, to }, 'redis database restored');
      }
    } finally {
      await scratch.dispose();
    }
  } catch (err) {
    throw destination.explain(err);
  } finally {
    destination.close();
  }
  return moved;
}

async function copyDatabase(source: Redis, destination: Redis, signal: AbortSignal): Promise<number> {
  let moved = 0;
  let cursor = '0';
  do {
    signal.throwIfAborted();
    const [next, keys] = await source.scanBuffer(cursor, 'COUNT', BATCH);
    cursor = next.toString();
    if (keys.length === 0) continue;
    const read = source.pipeline();
    for (const key of keys) read.dumpBuffer(key).pttl(key);
    const replies = (await read.exec()) ?? [];
    const write = destination.pipeline();
    keys.forEach((key, i) => {
      const payload = replies[i * 2]?.[1] as Buffer | null;
      const ttl = Number(replies[i * 2 + 1]?.[1]);
      // Gone since the scan (expired while loading): nothing to restore.
      if (payload === null || ttl === -2) return;
      write.restore(key, ttl > 0 ? ttl : 0, payload, 'REPLACE');
    });
    for (const [err] of (await write.exec()) ?? []) if (err) throw new Error(`RESTORE failed: ${err.message}`, { cause: err });
    moved += write.length;
  } while (cursor !== '0');
  return moved;
}
