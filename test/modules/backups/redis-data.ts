import { Redis } from 'ioredis';

/** Every value type, binary data, TTLs, a stream with a consumer group, and a second database. */
export async function fillRedis(client: Redis): Promise<void> {
  const p = client.pipeline();
  for (let i = 0; i < 500; i++) p.set(`str:${i}`, `value-${i}-${'v'.repeat(i % 40)}`);
  p.set(Buffer.from([0xff, 0x00, 0x10]), Buffer.from([0x00, 0xfe, 0x7f, 0x80]));
  for (let h = 0; h < 20; h++) p.hset(`hash:${h}`, Object.fromEntries(Array.from({ length: 50 }, (_, f) => [`f${f}`, `${h}:${f}`])));
  p.rpush('list:big', ...Array.from({ length: 1000 }, (_, i) => `item-${i}`));
  p.sadd('set:1', ...Array.from({ length: 300 }, (_, i) => `m${i}`));
  p.zadd('zset:1', ...Array.from({ length: 300 }, (_, i) => [String(i * 1.5), `z${i}`]).flat());
  for (let i = 0; i < 100; i++) p.xadd('stream:1', `${1700000000000 + i}-0`, 'n', String(i), 'kind', i % 2 ? 'odd' : 'even');
  p.xgroup('CREATE', 'stream:1', 'workers', '0');
  p.set('ttl:string', 'expires', 'PX', 3_600_000);
  p.hset('ttl:hash', 'a', '1');
  p.pexpire('ttl:hash', 7_200_000);
  p.select(3);
  p.set('db3:key', 'in database 3');
  p.sadd('db3:set', 'a', 'b', 'c');
  p.select(0);
  await p.exec();
  // Reading part of the stream leaves pending entries in the group: state that a restore must carry too.
  await client.xreadgroup('GROUP', 'workers', 'alice', 'COUNT', 10, 'STREAMS', 'stream:1', '>');
}

type Snapshot = Record<string, { type: string; value: unknown; ttlBucket: string }>;

async function valueOf(client: Redis, key: Buffer, type: string): Promise<unknown> {
  switch (type) {
    case 'string':
      return (await client.getBuffer(key))?.toString('hex');
    case 'hash':
      return Object.entries(await client.hgetall(key)).sort();
    case 'list':
      return client.lrange(key, 0, -1);
    case 'set':
      return (await client.smembers(key)).sort();
    case 'zset':
      return client.zrange(key, 0, -1, 'WITHSCORES');
    case 'stream':
      return { entries: await client.xrange(key, '-', '+'), groups: await client.xinfo('GROUPS', key), pending: await client.xpending(key, 'workers') };
    default:
      throw new Error(`unexpected type ${type}`);
  }
}

/** Type, content and TTL (to the hour) of every key in databases 0-15. */
export async function snapshotRedis(client: Redis): Promise<Snapshot> {
  const snapshot: Snapshot = {};
  for (let db = 0; db < 16; db++) {
    await client.select(db);
    const keys = await client.keysBuffer('*');
    for (const key of keys) {
      const type = await client.type(key);
      const ttl = await client.pttl(key);
      snapshot[`${db}/${key.toString('hex')}`] = { type, value: await valueOf(client, key, type), ttlBucket: ttl < 0 ? String(ttl) : `~${Math.round(ttl / 3_600_000)}h` };
    }
  }
  await client.select(0);
  return snapshot;
}
