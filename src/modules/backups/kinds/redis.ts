import { z } from 'zod';
import { execFile } from '../../../agent/kit/exec.js';
import { redisTargetFor, type RedisTarget } from '../../../agent/kit/redis.js';
import { duration } from '../../../agent/kit/schema.js';
import { checkRedisTls, redisTls, redisUrl } from '../../../agent/kit/redis-schema.js';
import { redactUrl } from '../../../agent/kit/redact-url.js';
import { jobCommon } from '../job-common.js';
import type { BackupKind, DumpContext, ToolVersions } from './kind.js';
import { openRedis, redisVersion } from '../redis/connection.js';
import { snapshotViaBgsave } from '../redis/rdb-file.js';
import { snapshotOverReplication } from '../redis/replica.js';
import { restoreRdbInto } from '../redis/restore.js';
import { redisDrillSchema } from '../drill/config.js';
import { redisDrill } from '../drill/redis.js';
import { snapshotWithContents } from '../drill/redis-contents.js';

export const redisJobSchema = z
  .strictObject({
    ...jobCommon,
    type: z.literal('redis').meta({ description: 'redis: an RDB snapshot of the whole server' }),
    url: redisUrl('server to back up; rediss:// for TLS'),
    mode: z
      .enum(['replication', 'file'])
      .default('replication')
      .meta({ description: 'replication: snapshot over the replica protocol (like redis-cli --rdb, works remotely); file: BGSAVE and copy the server\'s RDB file (same host only)' }),
    tls: redisTls(),
    saveTimeout: duration({ min: '1s' }).prefault('30m').meta({ description: 'mode file: how long BGSAVE may take' }),
    rdbPath: z.string().optional().meta({ description: 'mode file: the RDB file, when CONFIG GET dir/dbfilename is not allowed' }),
    drill: redisDrillSchema.optional(),
  })
  .superRefine((job, ctx) => {
    checkRedisTls(job, ctx);
    if (job.rdbPath && job.mode !== 'file') ctx.addIssue({ code: 'custom', path: ['rdbPath'], message: 'rdbPath is only read in mode "file"' });
  });

export type RedisJob = z.output<typeof redisJobSchema>;

/** `redis-check-rdb 7.0.15` (7.0) or `redis-check-rdb v=7.2.4 sha=…` (7.2+) → the version. */
export function parseCheckRdbVersion(output: string): string | undefined {
  return /(?:v=|\s)(\d+\.\d+(?:\.\d+)*)\b/.exec(output)?.[1];
}

async function checkRdbVersion(signal: AbortSignal): Promise<string> {
  const { stdout } = await execFile('redis-check-rdb', ['--version'], { signal, timeoutMs: 10_000 }).catch(() => ({ stdout: '' }));
  return parseCheckRdbVersion(stdout) ?? 'unknown';
}

/** One RDB snapshot of the server into the sink: over the replica protocol, or BGSAVE and a copy of its file. */
async function snapshotRedis(job: RedisJob, target: RedisTarget, { sink, signal }: DumpContext): Promise<ToolVersions> {
  const connection = await openRedis(target, signal);
  try {
    const server = (await redisVersion(connection.client)) ?? 'unknown';
    if (job.mode === 'file') {
      await snapshotViaBgsave(connection.client, { rdbPath: job.rdbPath, saveTimeoutMs: job.saveTimeout }, sink, signal);
      return { server, method: 'BGSAVE' };
    }
    connection.close();
    const method = await snapshotOverReplication(target, sink, signal);
    return { server, method };
  } catch (err) {
    throw connection.explain(err);
  } finally {
    connection.close();
  }
}

export const redisKind: BackupKind<RedisJob> = {
  extensions: ['rdb'],
  formatFor: () => ({ extension: 'rdb', layout: 'file' }),

  async dump(job, ctx) {
    const target = await redisTargetFor(job.url, job.tls);
    const snapshot = () => snapshotRedis(job, target, ctx);
    if (!job.drill || !ctx.recordContents) return snapshot();
    return snapshotWithContents(target, ctx.signal, ctx.recordContents, snapshot);
  },

  async check(_job, file, signal) {
    await execFile('redis-check-rdb', [file], { signal, timeoutMs: 10 * 60_000, maxOutputBytes: 4096 });
    return `redis-check-rdb ${await checkRdbVersion(signal)}`;
  },

  async restore(job, file, { to, signal, log }) {
    // Without --to the backup goes back where it came from, each database under its own number.
    const target = await redisTargetFor(to ?? job.url, job.tls);
    const moved = await restoreRdbInto(file, target, to === undefined ? undefined : target.db, signal, log);
    log.info({ keys: moved }, 'redis keys restored');
  },

  describeTarget(job, to) {
    return redactUrl(to ?? job.url);
  },

  drill: redisDrill,
};
