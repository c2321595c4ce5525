import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { spawnChild } from '../../../agent/kit/exec.js';
import { loadRedisClass, redisAddress, type RedisTarget } from '../../../agent/kit/redis.js';
import { openRedis } from './connection.js';

const BATCH = 500;
const LOAD_TIMEOUT_MS = 30 * 60_000;

/**
 * A throwaway redis-server on a unix socket in a new directory under `parent` that loads the backup, so its
 * keys can be read back.
 */
export async function startScratchServer(file: string, signal: AbortSignal, parent = tmpdir()): Promise<{ client: Redis; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(parent, 'caretaker-redis-restore-'));
  await symlink(resolve(file), join(dir, 'dump.rdb'));
  const socket = join(dir, 'redis.sock');
  const child = spawnChild(
    'redis-server',
    ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no', '--logfile', ''],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-8192));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((done) => child.once('close', () => done()));
  const RedisClass = await loadRedisClass();
  const client = new RedisClass({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // Connection attempts fail until the server listens; they surface as rejected commands, not as events.
  client.on('error', () => undefined);
  const dispose = async () => {
    client.disconnect();
    child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + LOAD_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server could not load the backup: ${output.trim().split('\n').slice(-3).join(' / ')}`);
      try {
        if (client.status === 'wait' || client.status === 'end') await client.connect();
        // PING answers -LOADING until the whole file is in memory.
        if ((await client.ping()) === 'PONG') return { client, dispose };
      } catch {
        // Not listening yet, or still loading.
      }
      if (Date.now() > deadline) throw new Error('redis-server did not finish loading the backup in time');
      await sleep(100, undefined, { signal });
    }
  } catch (err) {
    await dispose();
    throw err;
  }
}

function databasesOf(keyspace: string): number[] {
  return [...keyspace.matchAll(/^db(\d+):keys=(\d+)/gm)].map((m) => Number(m[1]));
}

/** Source database → target database: each under its own number, or the one database into `into`. */
function databaseMap(databases: number[], into: number | undefined, target: RedisTarget): Array<[number, number]> {
  if (into === undefined) return databases.map((db) => [db, db]);
  if (databases.length > 1) {
    throw new Error(
      `the backup holds databases ${databases.join(', ')}, but ${redisAddress(target)}/${into} names one: ` +
        'give --to without a database to restore each under its own number',
    );
  }
  return databases.map((db) => [db, into]);
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
    const scratch = await startScratchServer(file, signal);
    try {
      for (const [from, to] of databaseMap(databasesOf(await scratch.client.info('keyspace')), into, target)) {
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
