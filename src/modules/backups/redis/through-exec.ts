import { once } from 'node:events';
import { execFile, spawnChild, stopChild } from '../../../agent/kit/exec.js';
import { throughPrefix } from '../../../agent/kit/exec-prefix.js';
import { redisTargetFor } from '../../../agent/kit/redis.js';
import { withoutPassword } from '../../../agent/kit/redact-url.js';
import type { ToolVersions } from '../kinds/kind.js';
import type { ByteSink } from '../sink.js';
import { spawnStreaming, spawnToFile, streamToolInto } from '../spawn-stream.js';
import { databaseMap } from './database-map.js';
import { databasesIn } from './logical/scan.js';
import { startRedisServerOn } from './scratch.js';

/**
 * A Redis job whose server is reached only through an exec prefix (a container with no published port):
 * redis-cli runs next to it. The password goes in REDISCLI_AUTH, never on a command line.
 */
interface ExecJob {
  url: string;
  exec: readonly string[];
}

const BATCH = 500;
const OUTPUT_LIMIT = 16 * 1024;
const CRLF = Buffer.from('\r\n');

function redisCli(job: ExecJob, url: string, args: readonly string[]): { argv: [string, string[]]; env: NodeJS.ProcessEnv } {
  const { url: bare, password } = withoutPassword(url);
  const env = password ? { ...process.env, REDISCLI_AUTH: password } : process.env;
  return { argv: throughPrefix(job.exec, 'redis-cli', ['--no-auth-warning', '-u', bare, ...args]), env };
}

/** The server's version; redis-cli exits 0 on an error reply (`NOAUTH …`), so a missing version field is the failure, in its words. */
async function serverVersion(job: ExecJob, url: string, signal: AbortSignal): Promise<string> {
  const { argv, env } = redisCli(job, url, ['INFO', 'server']);
  const { stdout } = await execFile(...argv, { env, signal, timeoutMs: 30_000, maxOutputBytes: OUTPUT_LIMIT });
  const version = /^redis_version:(\S+)/m.exec(stdout)?.[1];
  if (!version) throw new Error(`redis-cli through ${job.exec[0]}: ${stdout.trim().split('\n')[0] || 'no answer to INFO'}`);
  return version;
}

/** `redis-cli --rdb -` through the prefix: the snapshot over the replica protocol, streamed into the sink (or the file) as it arrives. */
export async function snapshotThroughExec(job: ExecJob, sink: ByteSink, signal: AbortSignal): Promise<ToolVersions> {
  const server = await serverVersion(job, job.url, signal);
  const { argv, env } = redisCli(job, job.url, ['--rdb', '-']);
  if (sink.takeFd) {
    await spawnToFile(...argv, sink.takeFd(), { env, signal }).exited;
  } else {
    const child = spawnStreaming(...argv, { env, signal });
    await streamToolInto(child, sink, signal);
    await child.exited;
  }
  return { server, method: `redis-cli --rdb through ${job.exec[0]}` };
}

/** One command in the Redis protocol, as `redis-cli --pipe` reads it. */
function encode(parts: Array<string | Buffer>): Buffer {
  const chunks: Buffer[] = [Buffer.from(`*${parts.length}\r\n`)];
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part) : part;
    chunks.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(chunks);
}

/**
 * Restores an RDB file through the prefix: a scratch redis-server here loads it, and every key goes to
 * `redis-cli --pipe` there as `RESTORE key ttl payload REPLACE` with its remaining TTL, database by database
 * (the same result as a restore over a connection). redis-cli exits 1 when the server refused any command.
 */
export async function restoreThroughExec(job: ExecJob, file: string, to: string | undefined, signal: AbortSignal): Promise<number> {
  const url = to ?? job.url;
  // The target first: a wrong URL or password fails before a scratch server loads a large file.
  await serverVersion(job, url, signal);
  const into = to === undefined ? undefined : (await redisTargetFor(url, undefined)).db;
  const scratch = await startRedisServerOn(file, signal);
  const { argv, env } = redisCli(job, url, ['--pipe']);
  const child = spawnChild(...argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.stdin!.on('error', () => undefined);
  const closed = new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`${argv[0]}: ${err.message}`, { cause: err })));
    child.once('close', (code) => resolve(code));
  });
  closed.catch(() => undefined);
  const stop = () => stopChild(child, 3000);
  signal.addEventListener('abort', stop, { once: true });
  const send = async (bytes: Buffer) => {
    if (child.stdin!.write(bytes)) return;
    await Promise.race([once(child.stdin!, 'drain'), closed.then(() => Promise.reject(new Error('redis-cli --pipe ended early')))]);
  };
  let moved = 0;
  try {
    const target = await redisTargetFor(url, undefined);
    for (const [from, dest] of databaseMap(databasesIn(await scratch.client.info('keyspace')), into, target)) {
      await scratch.client.select(from);
      await send(encode(['SELECT', String(dest)]));
      let cursor = '0';
      do {
        signal.throwIfAborted();
        const [next, keys] = await scratch.client.scanBuffer(cursor, 'COUNT', BATCH);
        cursor = next.toString();
        if (keys.length === 0) continue;
        const read = scratch.client.pipeline();
        for (const key of keys) read.dumpBuffer(key).pttl(key);
        const replies = (await read.exec()) ?? [];
        for (const [i, key] of keys.entries()) {
          const payload = replies[i * 2]?.[1] as Buffer | null;
          const ttl = Number(replies[i * 2 + 1]?.[1]);
          if (payload === null || ttl === -2) continue;
          await send(encode(['RESTORE', key, String(ttl > 0 ? ttl : 0), payload, 'REPLACE']));
          moved++;
        }
      } while (cursor !== '0');
    }
    child.stdin!.end();
    const code = await closed;
    if (code !== 0) {
      const said = output.trim().split('\n').filter((line) => !/^(All data transferred|Last reply received)/.test(line)).slice(-3).join(' / ');
      throw new Error(`redis-cli --pipe through ${job.exec[0]} exited with ${code}: ${said}`);
    }
    return moved;
  } catch (err) {
    stop();
    await closed.catch(() => undefined);
    throw err;
  } finally {
    signal.removeEventListener('abort', stop);
    await scratch.dispose();
  }
}
