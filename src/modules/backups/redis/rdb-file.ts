import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { pipeInto, type ByteSink } from '../sink.js';
import { UnsupportedError } from '../kinds/kind.js';
import { isRefusal } from './connection.js';

const POLL_MS = 250;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function rdbLocation(client: Redis, rdbPath: string | undefined): Promise<string> {
  if (rdbPath) return rdbPath;
  try {
    const [, dir] = (await client.config('GET', 'dir')) as string[];
    const [, file] = (await client.config('GET', 'dbfilename')) as string[];
    if (!dir || !file) throw new Error('CONFIG GET returned nothing for dir/dbfilename');
    return join(dir, file);
  } catch (err) {
    if (isRefusal(message(err))) {
      throw new UnsupportedError(`this server refuses CONFIG GET (${message(err)}); set rdbPath to where it writes its RDB file`);
    }
    throw err;
  }
}

/** LASTSAVE counts whole seconds: a save finishing in the second of the last one would go unseen, so start in a fresh second. */
async function waitForFreshSecond(client: Redis, signal: AbortSignal): Promise<number> {
  const lastSave = Number(await client.lastsave());
  const [serverSeconds] = await client.time();
  if (Number(serverSeconds) <= lastSave) await sleep(1000, undefined, { signal });
  return lastSave;
}

/**
 * mode "file": BGSAVE, wait until LASTSAVE moves (never a fixed sleep), then stream `dir/dbfilename` into the
 * sink. Only for a server whose data directory this host can read.
 */
export async function snapshotViaBgsave(
  client: Redis,
  options: { rdbPath?: string; saveTimeoutMs: number },
  sink: ByteSink,
  signal: AbortSignal,
): Promise<void> {
  const path = await rdbLocation(client, options.rdbPath);
  const before = await waitForFreshSecond(client, signal);
  try {
    await client.bgsave();
  } catch (err) {
    const text = message(err);
    if (isRefusal(text)) throw new UnsupportedError(`this server refuses BGSAVE (${text}); managed services do not allow it`);
    // A save already under way will move LASTSAVE just as well.
    if (!/already in progress/i.test(text)) throw new Error(`BGSAVE failed: ${text}`, { cause: err });
  }
  const deadline = Date.now() + options.saveTimeoutMs;
  for (;;) {
    if (Number(await client.lastsave()) > before) break;
    const info = await client.info('persistence');
    if (/rdb_bgsave_in_progress:0/.test(info) && /rdb_last_bgsave_status:err/.test(info)) {
      throw new Error('BGSAVE failed on the server (rdb_last_bgsave_status:err); see the redis log');
    }
    if (Date.now() > deadline) throw new Error(`BGSAVE did not finish within ${options.saveTimeoutMs / 1000} s`);
    await sleep(POLL_MS, undefined, { signal });
  }
  // Redis renames a finished save into place, so the file we open is complete even if another save starts.
  await pipeInto(createReadStream(path), sink, signal);
}
