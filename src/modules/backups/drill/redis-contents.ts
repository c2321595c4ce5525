import type { Redis } from 'ioredis';
import type { RedisTarget } from '../../../agent/kit/redis.js';
import { openRedis } from '../redis/connection.js';
import type { BackupContents } from './contents.js';

type RedisContents = NonNullable<BackupContents['redis']>;
type SampledKey = RedisContents['sample'][number];

/** Keys sampled per database: enough to catch a wrong or empty copy, cheap on any server. */
const SAMPLE_PER_DB = 16;
const SCAN_ROUNDS = 8;

/** `db3:keys=2,expires=1,avg_ttl=0` lines of INFO keyspace → keys without a TTL per database. */
export function persistentKeys(keyspace: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const m of keyspace.matchAll(/^db(\d+):keys=(\d+),expires=(\d+)/gm)) counts.set(Number(m[1]), Number(m[2]) - Number(m[3]));
  return counts;
}

/** Up to SAMPLE_PER_DB keys without a TTL from each database, with their types. */
async function sampleKeys(client: Redis, databases: number[]): Promise<SampledKey[]> {
  const sample: SampledKey[] = [];
  for (const db of databases) {
    await client.select(db);
    let cursor = '0';
    let found = 0;
    for (let round = 0; round < SCAN_ROUNDS && found < SAMPLE_PER_DB; round++) {
      const [next, keys] = await client.scanBuffer(cursor, 'COUNT', 100);
      cursor = next.toString();
      const probe = client.pipeline();
      for (const key of keys) probe.type(key).pttl(key);
      const replies = (await probe.exec()) ?? [];
      keys.forEach((key, i) => {
        const type = replies[i * 2]?.[1];
        if (found >= SAMPLE_PER_DB || Number(replies[i * 2 + 1]?.[1]) !== -1 || typeof type !== 'string') return;
        sample.push({ db, key: key.toString('base64'), type });
        found++;
      });
      if (cursor === '0') break;
    }
  }
  return sample;
}

/** The sampled keys that still have the same type and no TTL: the others changed while the snapshot was taken. */
async function stillTheSame(client: Redis, sample: SampledKey[]): Promise<SampledKey[]> {
  const kept: SampledKey[] = [];
  for (const entry of sample) {
    await client.select(entry.db);
    const key = Buffer.from(entry.key, 'base64');
    const [type, ttl] = await Promise.all([client.type(key), client.pttl(key)]);
    if (type === entry.type && ttl === -1) kept.push(entry);
  }
  return kept;
}

async function withClient<T>(target: RedisTarget, signal: AbortSignal, use: (client: Redis) => Promise<T>): Promise<T> {
  const connection = await openRedis(target, signal);
  try {
    return await use(connection.client);
  } catch (err) {
    throw connection.explain(err);
  } finally {
    connection.close();
  }
}

/**
 * Takes a snapshot between two readings of the server's keyspace (on a connection of its own), for a job
 * with a drill: persistent key counts before and after, and a sample of keys whose type held across both.
 * The RDB's own contents cannot be read without loading it; the two readings bound what it holds.
 */
export async function snapshotWithContents<R>(target: RedisTarget, signal: AbortSignal, record: (contents: BackupContents) => void, snapshot: () => Promise<R>): Promise<R> {
  const before = await withClient(target, signal, async (client) => {
    const counts = persistentKeys(await client.info('keyspace'));
    return { counts, sample: await sampleKeys(client, [...counts.keys()]) };
  });
  const result = await snapshot();
  await withClient(target, signal, async (client) => {
    const after = persistentKeys(await client.info('keyspace'));
    const dbs = [...new Set([...before.counts.keys(), ...after.keys()])].sort((a, b) => a - b);
    record({
      redis: {
        databases: dbs.map((db) => ({ db, persistentBefore: before.counts.get(db) ?? 0, persistentAfter: after.get(db) ?? 0 })),
        sample: await stillTheSame(client, before.sample),
      },
    });
  });
  return result;
}
