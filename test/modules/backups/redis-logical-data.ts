import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { fillRedis } from './redis-data.js';

const PIPELINE = 2000;

/**
 * `keys` keys of every plain type (a tenth in database 2, every seventh with a TTL), the streams, consumer
 * groups and binary keys of fillRedis, and optionally one hash of `bigHashMiB` MiB (1 MiB fields).
 */
export async function fillMany(client: Redis, keys: number, bigHashMiB = 0): Promise<void> {
  await fillRedis(client);
  for (let start = 0; start < keys; start += PIPELINE) {
    const p = client.pipeline();
    for (let i = start; i < Math.min(keys, start + PIPELINE); i++) {
      const db = i % 10 === 3 ? 2 : 0;
      if (db !== 0) p.select(db);
      const key = `k:${i}`;
      switch (i % 10) {
        case 6:
          p.hset(key, 'a', String(i), 'b', 'x'.repeat(i % 50), 'c', '3');
          break;
        case 7:
          p.rpush(key, 'one', String(i), 'three');
          break;
        case 8:
          p.sadd(key, 'm1', String(i), 'm3');
          break;
        case 9:
          p.zadd(key, 1.5, 'a', i, 'b', -3.25, 'c');
          break;
        default:
          p.set(key, `value-${i}`);
      }
      if (i % 7 === 0) p.pexpire(key, 3_600_000 + i);
      if (db !== 0) p.select(0);
    }
    await p.exec();
  }
  for (let f = 0; f < bigHashMiB; f++) await client.hset('big:hash', `field-${f}`, randomBytes(512 * 1024).toString('hex'));
}

export interface KeyState {
  type: string;
  value: string;
  /** -1 without a TTL, else the absolute expiry it implies (ms), so two reads seconds apart compare. */
  expiry: number;
}

/** Buffers as hex before JSON (Buffer's own toJSON is an array of numbers: slow for a 50 MiB hash). */
function plain(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function digest(value: unknown): string {
  const hash = createHash('sha256');
  if (Buffer.isBuffer(value)) hash.update(value);
  else hash.update(JSON.stringify(plain(value)));
  return hash.digest('hex');
}

/** Every key of databases 0-15 (or those given): type, a digest of its whole value (a stream with its groups and pending entries) and expiry. */
export async function keyspace(client: Redis, databases = Array.from({ length: 16 }, (_, db) => db)): Promise<Map<string, KeyState>> {
  const out = new Map<string, KeyState>();
  for (const db of databases) {
    await client.select(db);
    let cursor = '0';
    do {
      const [next, keys] = await client.scanBuffer(cursor, 'COUNT', 5000);
      cursor = next.toString();
      const meta = client.pipeline();
      for (const key of keys) meta.type(key).pttl(key);
      // The server's clock right after the PTTLs: the local one after the reply can be seconds late on a loaded machine.
      meta.time();
      const replies = (await meta.exec())!;
      const [seconds, micros] = replies[keys.length * 2]![1] as [string, string];
      const readAt = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const values = client.pipeline();
      const types = keys.map((_, i) => replies[i * 2]![1] as string);
      keys.forEach((key, i) => {
        switch (types[i]) {
          case 'string':
            values.getBuffer(key);
            break;
          case 'hash':
            values.hgetallBuffer(key);
            break;
          case 'list':
            values.lrangeBuffer(key, 0, -1);
            break;
          case 'set':
            values.smembersBuffer(key);
            break;
          case 'zset':
            values.zrange(key, 0, -1, 'WITHSCORES');
            break;
          case 'stream':
            values.xrange(key, '-', '+');
            break;
          default:
            throw new Error(`unexpected type ${types[i]}`);
        }
      });
      const read = (await values.exec())!;
      for (const [i, key] of keys.entries()) {
        let value = read[i]![1];
        if (types[i] === 'hash') value = Object.entries(value as Record<string, Buffer>).sort(([a], [b]) => a.localeCompare(b));
        if (types[i] === 'set') value = (value as Buffer[]).map((b) => b.toString('hex')).sort();
        if (types[i] === 'stream') {
          const info = (await client.call('XINFO', 'STREAM', key)) as unknown[];
          const fields = Object.fromEntries(Array.from({ length: info.length / 2 }, (_, j) => [String(info[j * 2]), info[j * 2 + 1]]));
          const groups = (await client.call('XINFO', 'GROUPS', key)) as unknown[][];
          const pending = [];
          for (const group of groups) pending.push(await client.call('XPENDING', key, String(group[1]), '-', '+', 1000));
          value = { value, last: fields['last-generated-id'], added: fields['entries-added'], groups, pending: pending.map((p) => (p as unknown[][]).map((e) => [e[0], e[1], e[3]])) };
        }
        out.set(`${db}/${key.toString('hex')}`, { type: types[i]!, value: digest(value), expiry: expiryOf(replies[i * 2 + 1]![1] as number, readAt) });
      }
    } while (cursor !== '0');
  }
  await client.select(0);
  return out;
}

function expiryOf(pttl: number, at: number): number {
  return pttl < 0 ? pttl : at + pttl;
}

/** The same keys with the same types and values, and TTLs within a second of each other. */
export function assertSameKeyspace(actual: Map<string, KeyState>, expected: Map<string, KeyState>): void {
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const extra = [...actual.keys()].filter((k) => !expected.has(k));
  assert.deepEqual({ missing: missing.slice(0, 5), extra: extra.slice(0, 5) }, { missing: [], extra: [] }, `${missing.length} missing, ${extra.length} extra`);
  let checked = 0;
  for (const [key, want] of expected) {
    const got = actual.get(key)!;
    const name = Buffer.from(key.split('/')[1]!, 'hex').toString('utf8');
    assert.equal(got.type, want.type, `type of ${name}`);
    assert.equal(got.value, want.value, `value of ${name} (${want.type})`);
    if (want.expiry < 0) assert.equal(got.expiry, want.expiry, `TTL of ${name}`);
    else assert.ok(Math.abs(got.expiry - want.expiry) < 1000, `TTL of ${name}: expires ${got.expiry - want.expiry} ms from the original`);
    checked++;
  }
  assert.equal(checked, expected.size);
}
