import type { RedisTarget } from '../../../../agent/kit/redis.js';
import type { Redis } from 'ioredis';
import { UnsupportedError } from '../../kinds/kind.js';
import type { ByteSink } from '../../sink.js';
import { openRedis } from '../connection.js';
import { LogicalWriter } from './format.js';
import { RawCommands } from './raw.js';
import { databasesWithKeys, dumpKeys, scanDatabase, SCAN_DEFAULTS } from './scan.js';

export interface LogicalDump {
  keys: number;
  databases: number[];
}

/** A SCAN of one cluster node sees only its own slots: a backup of it would look whole and not be. */
async function refuseClusterNode(client: Redis): Promise<void> {
  const info = await client.info('cluster').catch(() => '');
  if (/^cluster_enabled:1/m.test(info)) {
    throw new UnsupportedError('this server is a Redis Cluster node: logical backups of a Redis Cluster are not supported yet');
  }
}

/**
 * mode "logical": SCAN every database that holds keys, DUMP + PTTL each key (pipelined, a few batches in
 * flight) and write them into the sink as a logical file (format.ts). Not a point in time: a key written or
 * deleted during the scan may or may not be in it.
 */
export async function dumpLogical(target: RedisTarget, sink: ByteSink, signal: AbortSignal): Promise<LogicalDump> {
  const connection = await openRedis(target, signal);
  const { client } = connection;
  let raw: RawCommands | undefined;
  try {
    await refuseClusterNode(client);
    const databases = await databasesWithKeys(client);
    // The keys are read on a raw socket (raw.ts): the client's object per command cost more than DUMP.
    raw = await RawCommands.open(target, signal);
    const send = raw.send.bind(raw);
    const writer = new LogicalWriter(sink);
    await writer.start();
    for (const db of databases) {
      await raw.select(db);
      await scanDatabase(
        send,
        { ...SCAN_DEFAULTS, signal },
        (keys) => dumpKeys(send, keys),
        async (batch) => {
          for (const key of batch) await writer.record({ db, ...key });
        },
      );
    }
    await writer.finish();
    return { keys: writer.keys, databases };
  } catch (err) {
    throw connection.explain(err);
  } finally {
    connection.close();
    raw?.close();
  }
}
