import { redisAddress, type RedisTarget } from '../../../../agent/kit/redis.js';
import { openRedis } from '../connection.js';
import { databaseMap } from '../database-map.js';
import { startRedisServerOn, type ScratchServer } from '../scratch.js';
import { copyByType, TypeCopyError } from './by-type.js';
import { readLogicalFile } from './format.js';
import { RawCommands } from './raw.js';
import { isClusterNode, type DumpedKey } from './scan.js';
import { describeCounts, KeyWriter, type WriteCounts, type WriterOptions } from './writer.js';

export interface LogicalRestoreResult {
  counts: WriteCounts;
  failures: string[];
}

/** Writes every record of a logical file through `writer`, calling `select` with each record's database (mapped by `dbOf`) first. */
async function writeRecords(file: string, select: (db: number) => Promise<unknown>, writer: KeyWriter, dbOf: (db: number) => number, signal: AbortSignal): Promise<void> {
  let current: number | undefined;
  const switchTo = async (db: number) => {
    await writer.flush();
    await select(db);
    current = db;
  };
  await readLogicalFile(
    file,
    // Not async: a key that needs no wait (most) costs no promise.
    (record) => {
      const db = dbOf(record.db);
      if (db !== current) return switchTo(db).then(() => writer.add(record));
      return writer.add(record);
    },
    signal,
  );
  await writer.flush();
}

/** The databases a logical file holds, read from its records (for a restore into one named database, before anything is written). */
async function databasesOfFile(file: string, signal: AbortSignal): Promise<number[]> {
  const seen = new Set<number>();
  await readLogicalFile(file, (record) => void seen.add(record.db), signal);
  return [...seen].sort((a, b) => a - b);
}

/** Into a scratch server of our own: RESTORE only, each key into its own database (a drill's check, a type copy's source). */
export async function loadLogicalInto(file: string, scratch: ScratchServer, signal: AbortSignal): Promise<void> {
  const raw = await RawCommands.openUnix(scratch.socketPath, signal);
  try {
    const writer = new KeyWriter(scratch.client, {
      replace: true,
      maxRequestBytes: Number.MAX_SAFE_INTEGER,
      copyByType: () => Promise.reject(new TypeCopyError('the local redis-server refused it')),
      send: (commands) => raw.errors(commands),
    });
    await writeRecords(file, (db) => Promise.all([scratch.client.select(db), raw.select(db)]), writer, (db) => db, signal);
    if (writer.counts.failed > 0) throw new Error(`the local redis-server could not load ${writer.counts.failed} keys of the backup: ${writer.failures.join('; ')}`);
  } finally {
    raw.close();
  }
}

/**
 * Restores a logical file into a server: RESTORE … REPLACE ABSTTL, pipelined; a key the target refuses (another
 * RDB version, RESTORE renamed away, a payload over `maxRequestBytes`) is RESTOREd into a local scratch
 * redis-server, started on first need, and copied from there by type. With `into`, the file's one database goes
 * there. Resolves with how many keys went which way; keys that failed both ways are named.
 */
export async function restoreLogicalInto(
  file: string,
  target: RedisTarget,
  into: number | undefined,
  options: { maxRequestBytes: number; signal: AbortSignal },
): Promise<LogicalRestoreResult> {
  const { signal } = options;
  const destination = await openRedis(target, signal);
  let scratch: Promise<ScratchServer> | undefined;
  let raw: RawCommands | undefined;
  try {
    // Each key would have to go to the node that serves its slot.
    if (await isClusterNode(destination.client)) throw new Error(`${redisAddress(target)} is a Redis Cluster node: restoring a logical backup into a Redis Cluster is not supported yet`);
    raw = await RawCommands.open(target, signal);
    const map = new Map(into === undefined ? [] : databaseMap(await databasesOfFile(file, signal), into, target));
    const viaScratch = async (entry: DumpedKey) => {
      const { client } = await (scratch ??= startRedisServerOn(undefined, signal));
      try {
        await client.restore(entry.key, 0, entry.payload, 'REPLACE');
      } catch (err) {
        throw new TypeCopyError(`the local redis-server cannot read its payload either (${(err as Error).message})`);
      }
      try {
        await copyByType(client, destination.client, entry.key, { maxRequestBytes: options.maxRequestBytes, expireAt: entry.expireAt });
      } finally {
        await client.del(entry.key);
      }
    };
    const rawCommands = raw;
    const writerOptions: WriterOptions = { replace: true, maxRequestBytes: options.maxRequestBytes, copyByType: viaScratch, send: (commands) => rawCommands.errors(commands) };
    const writer = new KeyWriter(destination.client, writerOptions);
    // Both connections: RESTOREs go on the raw one, type copies on the client.
    const select = (db: number) => Promise.all([destination.client.select(db), rawCommands.select(db)]);
    await writeRecords(file, select, writer, (db) => map.get(db) ?? db, signal);
    return { counts: writer.counts, failures: writer.failures };
  } catch (err) {
    throw destination.explain(err);
  } finally {
    destination.close();
    raw?.close();
    await (await scratch?.catch(() => undefined))?.dispose();
  }
}

/** The result as one line, with the keys that failed. */
export function describeRestore(result: LogicalRestoreResult): string {
  const failed = result.failures.length > 0 ? `: ${result.failures.join('; ')}` : '';
  return describeCounts(result.counts) + failed;
}
