import type { Redis } from 'ioredis';
import type { RedisTarget } from '../../../../agent/kit/redis.js';
import type { ByteSink } from '../../sink.js';
import { openRedis } from '../connection.js';
import { LogicalWriter } from './format.js';
import { RawCommands } from './raw.js';
import { databasesWithKeys, dumpKeys, isClusterNode, scanDatabase, SCAN_DEFAULTS } from './scan.js';

export interface LogicalDump {
  keys: number;
  databases: number[];
  /** Primaries scanned (one unless the server is a Redis Cluster node). */
  nodes: number;
}

/** `CLUSTER NODES` → the primaries that serve slots, as `host:port` (an empty host is the one we asked). */
export function clusterPrimaries(nodes: string, askedHost: string): Array<{ host: string; port: number }> {
  const out: Array<{ host: string; port: number }> = [];
  for (const line of nodes.split('\n')) {
    const fields = line.trim().split(' ');
    const flags = fields[2]?.split(',') ?? [];
    if (fields.length < 9 || !flags.includes('master') || flags.includes('fail') || flags.includes('noaddr')) continue;
    const address = /^(.*):(\d+)@/.exec(fields[1] ?? '');
    if (!address) continue;
    out.push({ host: address[1] || askedHost, port: Number(address[2]) });
  }
  return out;
}

/** The servers to scan: this one, or, on a Redis Cluster node, every primary (a SCAN of one node sees only its own slots). */
async function serversToScan(client: Redis, target: RedisTarget): Promise<RedisTarget[]> {
  if (!(await isClusterNode(client))) return [target];
  const primaries = clusterPrimaries(String(await client.call('CLUSTER', 'NODES')), target.host);
  if (primaries.length === 0) throw new Error('this Redis Cluster node knows no primary that serves slots (CLUSTER NODES)');
  // The same credentials and TLS settings (its CA, its server name) for every node.
  return primaries.map(({ host, port }) => ({ ...target, host, port, db: undefined }));
}

/**
 * mode "logical": SCAN every database that holds keys, DUMP + PTTL each key (pipelined, a few batches in
 * flight) and write them into the sink as a logical file (format.ts); a Redis Cluster's every primary in turn.
 * Not a point in time: a key written or deleted during the scan may or may not be in it.
 */
export async function dumpLogical(target: RedisTarget, sink: ByteSink, signal: AbortSignal): Promise<LogicalDump> {
  const connection = await openRedis(target, signal);
  const { client } = connection;
  const opened: RawCommands[] = [];
  try {
    const servers = await serversToScan(client, target);
    const databases = servers.length > 1 ? [0] : await databasesWithKeys(client);
    const writer = new LogicalWriter(sink);
    await writer.start();
    for (const server of servers) {
      // The keys are read on a raw socket (raw.ts): the client's object per command cost more than DUMP.
      const raw = await RawCommands.open(server, signal);
      opened.push(raw);
      const send = raw.send.bind(raw);
      for (const db of databases) {
        await raw.select(db);
        await scanDatabase(
          send,
          { ...SCAN_DEFAULTS, signal },
          (keys) => dumpKeys(send, keys),
          async (batch) => {
            for (const key of batch) {
              const wait = writer.record({ db, ...key });
              if (wait) await wait;
            }
          },
        );
      }
      raw.close();
    }
    await writer.finish();
    return { keys: writer.keys, databases, nodes: servers.length };
  } catch (err) {
    throw connection.explain(err);
  } finally {
    connection.close();
    for (const raw of opened) raw.close();
  }
}
