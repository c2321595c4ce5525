import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { spawnChild } from '../../../agent/kit/exec.js';
import { loadRedisClass } from '../../../agent/kit/redis.js';

const LOAD_TIMEOUT_MS = 30 * 60_000;

export interface ScratchServer {
  client: Redis;
  /** Its unix socket, for a connection of one's own (raw.ts). */
  socketPath: string;
  dispose(): Promise<void>;
}

/**
 * A throwaway redis-server on a unix socket in a new directory under `parent`, empty or loading an RDB file,
 * so keys can be read back (or RESTOREd into it and read by type).
 */
export async function startRedisServerOn(rdbFile: string | undefined, signal: AbortSignal, parent = tmpdir()): Promise<ScratchServer> {
  const dir = await mkdtemp(join(parent, 'caretaker-redis-restore-'));
  if (rdbFile !== undefined) await symlink(resolve(rdbFile), join(dir, 'dump.rdb'));
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
        if ((await client.ping()) === 'PONG') return { client, socketPath: socket, dispose };
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
