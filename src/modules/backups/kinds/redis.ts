import { z } from 'zod';
import { execFile } from '../../../agent/kit/exec.js';
import { redisTargetFor, type RedisTarget } from '../../../agent/kit/redis.js';
import { duration, size } from '../../../agent/kit/schema.js';
import { checkRedisTls, redisTls, redisUrl } from '../../../agent/kit/redis-schema.js';
import { execPrefix } from '../../../agent/kit/exec-prefix.js';
import { redactUrl } from '../../../agent/kit/redact-url.js';
import { jobCommon } from '../job-common.js';
import { readManifest } from '../manifest.js';
import { UnsupportedError, type BackupKind, type DumpContext, type ToolVersions } from './kind.js';
import { openRedis, redisVersion } from '../redis/connection.js';
import { dumpLogical } from '../redis/logical/dump.js';
import { isLogicalFile, readLogicalFile } from '../redis/logical/format.js';
import { replicationRefused } from '../redis/logical/probe.js';
import { describeRestore, restoreLogicalInto } from '../redis/logical/restore.js';
import { snapshotViaBgsave } from '../redis/rdb-file.js';
import { snapshotOverReplication } from '../redis/replica.js';
import { restoreRdbInto } from '../redis/restore.js';
import { restoreThroughExec, snapshotThroughExec } from '../redis/through-exec.js';
import { redisDrillSchema } from '../drill/config.js';
import { redisDrill } from '../drill/redis.js';
import { snapshotWithContents } from '../drill/redis-contents.js';

export const redisJobSchema = z
  .strictObject({
    ...jobCommon,
    type: z.literal('redis').meta({ description: 'redis: the whole server, as an RDB snapshot or key by key (mode logical)' }),
    url: redisUrl('server to back up; rediss:// for TLS'),
    mode: z
      .enum(['auto', 'replication', 'logical', 'file'])
      .default('auto')
      .meta({
        description:
          'auto: replication where the server allows SYNC/PSYNC, else logical; replication: snapshot over the replica protocol (like redis-cli --rdb, works remotely); ' +
          'logical: SCAN + DUMP every key (managed servers: Upstash, ElastiCache; not a point in time); file: BGSAVE and copy the server\'s RDB file (same host only)',
      }),
    maxRequestSize: size()
      .prefault('512MiB')
      .meta({ description: 'restore of a logical backup: a key whose DUMP payload is larger goes by type, in requests below this (Upstash: 10MB)' }),
    tls: redisTls(),
    saveTimeout: duration({ min: '1s' }).prefault('30m').meta({ description: 'mode file: how long BGSAVE may take' }),
    rdbPath: z.string().optional().meta({ description: 'mode file: the RDB file, when CONFIG GET dir/dbfilename is not allowed' }),
    exec: execPrefix('redis-cli is').optional(),
    drill: redisDrillSchema.optional(),
  })
  .superRefine((job, ctx) => {
    checkRedisTls(job, ctx);
    if (job.exec) {
      // redis-cli --rdb there is the snapshot; the modes that read keys or files need a connection from here.
      if (job.mode === 'logical' || job.mode === 'file') ctx.addIssue({ code: 'custom', path: ['mode'], message: `mode ${job.mode} needs a connection from this host: with exec the snapshot is redis-cli --rdb (mode replication)` });
      if (job.tls) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'redis-cli run through exec takes TLS from the url (rediss://) and its own defaults: leave the tls block out' });
      if (job.drill) ctx.addIssue({ code: 'custom', path: ['drill'], message: 'a drill samples keys over a connection from this host, which exec is there to avoid: not supported with exec yet' });
    }
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

/**
 * One snapshot of the server into the sink: over the replica protocol, BGSAVE and a copy of its file, or
 * logical (SCAN + DUMP). Mode auto asks whether SYNC/PSYNC exist first and still falls back to logical when
 * the real SYNC is refused (an ACL denies it), before any byte is written.
 */
async function snapshotRedis(job: RedisJob, target: RedisTarget, { sink, signal, recordSummary }: DumpContext): Promise<ToolVersions> {
  const connection = await openRedis(target, signal);
  try {
    const server = (await redisVersion(connection.client)) ?? 'unknown';
    if (job.mode === 'file') {
      await snapshotViaBgsave(connection.client, { rdbPath: job.rdbPath, saveTimeoutMs: job.saveTimeout }, sink, signal);
      recordSummary?.({ mode: 'file' });
      return { server, method: 'BGSAVE' };
    }
    const logical = job.mode === 'logical' || (job.mode === 'auto' && (await replicationRefused(connection.client)));
    connection.close();
    if (!logical) {
      try {
        const method = await snapshotOverReplication(target, sink, signal);
        recordSummary?.({ mode: 'replication' });
        return { server, method };
      } catch (err) {
        if (!(job.mode === 'auto' && err instanceof UnsupportedError && sink.bytes === 0)) throw err;
      }
    }
    const { keys } = await dumpLogical(target, sink, signal);
    recordSummary?.({ mode: 'logical', keys });
    return { server, method: 'SCAN + DUMP' };
  } catch (err) {
    throw connection.explain(err);
  } finally {
    connection.close();
  }
}

async function askReplicationRefused(job: RedisJob): Promise<boolean> {
  const signal = AbortSignal.timeout(15_000);
  const connection = await openRedis(await redisTargetFor(job.url, job.tls), signal);
  try {
    return await replicationRefused(connection.client);
  } finally {
    connection.close();
  }
}

/** Structure, every block's sha256, and the key count against the trailer and, when there is one, the manifest. */
async function checkLogical(file: string, signal: AbortSignal): Promise<string> {
  const { keys, blocks } = await readLogicalFile(file, () => undefined, signal);
  const recorded = (await readManifest(file))?.keys;
  if (recorded !== undefined && recorded !== keys) throw new Error(`the file holds ${keys} keys, its manifest says ${recorded}`);
  return `logical format check (${keys} keys, ${blocks} blocks, sha256 each)`;
}

export const redisKind: BackupKind<RedisJob> = {
  extensions: ['rdb', 'rlog'],
  async formatFor(job) {
    if (job.exec) return { extension: 'rdb', layout: 'file' };
    if (job.mode === 'logical') return { extension: 'rlog', layout: 'file' };
    if (job.mode !== 'auto') return { extension: 'rdb', layout: 'file' };
    // Named before the dump starts, so asked here too; a server that cannot be reached fails in the dump, with its cause.
    const refused = await askReplicationRefused(job).catch(() => false);
    return { extension: refused ? 'rlog' : 'rdb', layout: 'file' };
  },

  async dump(job, ctx) {
    if (job.exec) {
      const tools = await snapshotThroughExec({ url: job.url, exec: job.exec }, ctx.sink, ctx.signal);
      ctx.recordSummary?.({ mode: 'replication' });
      return tools;
    }
    const target = await redisTargetFor(job.url, job.tls);
    const snapshot = () => snapshotRedis(job, target, ctx);
    if (!job.drill || !ctx.recordContents) return snapshot();
    return snapshotWithContents(target, ctx.signal, ctx.recordContents, snapshot);
  },

  async check(_job, file, signal) {
    // What the file holds decides, not its name or the job's mode now (auto may have fallen back after naming it).
    if (await isLogicalFile(file)) return checkLogical(file, signal);
    await execFile('redis-check-rdb', [file], { signal, timeoutMs: 10 * 60_000, maxOutputBytes: 4096 });
    return `redis-check-rdb ${await checkRdbVersion(signal)}`;
  },

  async restore(job, file, { to, signal, log }) {
    if (job.exec && !(await isLogicalFile(file))) {
      const moved = await restoreThroughExec({ url: job.url, exec: job.exec }, file, to, signal);
      log.info({ keys: moved }, 'redis keys restored');
      return;
    }
    // Without --to the backup goes back where it came from, each database under its own number.
    const target = await redisTargetFor(to ?? job.url, job.tls);
    const into = to === undefined ? undefined : target.db;
    if (await isLogicalFile(file)) {
      const result = await restoreLogicalInto(file, target, into, { maxRequestBytes: job.maxRequestSize, signal });
      log.info({ ...result.counts }, 'redis keys restored');
      if (result.counts.failed > 0) throw new Error(`restore incomplete: ${describeRestore(result)}`);
      return describeRestore(result);
    }
    const moved = await restoreRdbInto(file, target, into, signal, log);
    log.info({ keys: moved }, 'redis keys restored');
  },

  describeTarget(job, to) {
    return redactUrl(to ?? job.url);
  },

  drill: redisDrill,
};
