// A logical Redis backup (mode logical: SCAN + PTTL + DUMP into a .rlog through the module's FileSink) against
// `redis-cli --rdb` on the same server, and its restore (RESTORE … ABSTTL, pipelined) against `redis-cli --pipe`
// of the same RESTORE commands; plus this process's peak RSS growth during the logical backup.
//
//   node --expose-gc --import tsx bench/redis-logical/run.ts [--keys 1000000] [--value-bytes 100] [--rounds 3]
//
// Keys come from DEBUG POPULATE (strings). Rounds alternate the order of the two sides; the verdict is the
// median of per-round ratios (the other tool's time over ours: 1.00 is as fast).
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { parseRedisUrl } from '../../src/agent/kit/redis.js';
import { dumpLogical } from '../../src/modules/backups/redis/logical/dump.js';
import { readLogicalFile } from '../../src/modules/backups/redis/logical/format.js';
import { restoreLogicalInto } from '../../src/modules/backups/redis/logical/restore.js';
import { FileSink } from '../../src/modules/backups/sink.js';
import { startRedis } from '../../test/harness/redis.js';
import { makeTempDir } from '../../test/harness/tmpdir.js';

const { values } = parseArgs({ options: { keys: { type: 'string', default: '1000000' }, 'value-bytes': { type: 'string', default: '100' }, rounds: { type: 'string', default: '3' } } });
const keys = Number(values.keys);
const rounds = Number(values.rounds);
if (!(rounds >= 1 && rounds <= 9)) throw new Error('--rounds: 1 to 9');
const startLoad = loadavg();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function run(command: string, args: string[], stdinFile?: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [stdinFile ? 'pipe' : 'ignore', 'ignore', 'inherit'] });
    if (stdinFile) import('node:fs').then(({ createReadStream }) => createReadStream(stdinFile).pipe(child.stdin!));
    child.once('close', (code) => (code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`${command} exit ${code}`))));
  });
}

function resp(args: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

const tmp = await makeTempDir('bench-redis-logical');
const source = await startRedis({ extraArgs: ['--enable-debug-command', 'yes'] });
const target = await startRedis();
try {
  const src = new Redis({ port: source.port });
  await src.call('DEBUG', 'POPULATE', String(keys), 'key', values['value-bytes']!);
  const dst = new Redis({ port: target.port });
  const rlog = join(tmp.path, 'backup.rlog');
  const rdb = join(tmp.path, 'backup.rdb');
  const pipeFile = join(tmp.path, 'restore.resp');
  const backupRatios: number[] = [];
  const restoreRatios: number[] = [];
  let peakGrowth = 0;
  const rows: string[] = [];
  for (let round = 0; round < rounds; round++) {
    const logical = async () => {
      await rm(rlog, { force: true });
      global.gc?.();
      const base = process.memoryUsage().rss;
      let peak = base;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      const started = performance.now();
      const sink = await FileSink.create(rlog);
      await dumpLogical(parseRedisUrl(source.url), sink, AbortSignal.timeout(600_000));
      await sink.finish(async () => '');
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      peakGrowth = Math.max(peakGrowth, peak - base);
      return seconds;
    };
    const cli = async () => {
      await rm(rdb, { force: true });
      return run('redis-cli', ['-p', String(source.port), '--rdb', rdb]);
    };
    const [ours, theirs] = round % 2 === 0 ? [await logical(), await cli()] : await cli().then(async (t) => [await logical(), t]);
    backupRatios.push(theirs / ours);

    // The same RESTORE commands for redis-cli --pipe, written from the logical file.
    if (round === 0) {
      const out = createWriteStream(pipeFile);
      await readLogicalFile(rlog, (r) => {
        out.write(resp([Buffer.from('RESTORE'), r.key, Buffer.from('0'), r.payload, Buffer.from('REPLACE')]));
      });
      await new Promise((resolve) => out.end(resolve));
    }
    const restoreOurs = async () => {
      await dst.flushall();
      const started = performance.now();
      await restoreLogicalInto(rlog, parseRedisUrl(target.url), undefined, { maxRequestBytes: 512 * 1024 * 1024, signal: AbortSignal.timeout(600_000) });
      return (performance.now() - started) / 1000;
    };
    const restoreTheirs = async () => {
      await dst.flushall();
      return run('redis-cli', ['-p', String(target.port), '--pipe'], pipeFile);
    };
    const [rOurs, rTheirs] = round % 2 === 0 ? [await restoreOurs(), await restoreTheirs()] : await restoreTheirs().then(async (t) => [await restoreOurs(), t]);
    if ((await dst.dbsize()) !== keys) throw new Error(`restore left ${await dst.dbsize()} keys`);
    restoreRatios.push(rTheirs / rOurs);
    rows.push(`| ${round + 1} | ${ours.toFixed(2)} s | ${theirs.toFixed(2)} s | ${(theirs / ours).toFixed(2)} | ${rOurs.toFixed(2)} s | ${rTheirs.toFixed(2)} s | ${(rTheirs / rOurs).toFixed(2)} |`);
  }
  const sizes = `rlog ${((await stat(rlog)).size / 1e6).toFixed(1)} MB, rdb ${((await stat(rdb)).size / 1e6).toFixed(1)} MB`;
  console.log(`${keys} keys of ${values['value-bytes']} B (${sizes}); load ${startLoad.map((l) => l.toFixed(1)).join(' ')} → ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('| round | logical backup | redis-cli --rdb | ratio | logical restore | redis-cli --pipe | ratio |');
  console.log('|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log(`backup ratio median ${median(backupRatios).toFixed(2)} (target >= 0.5); restore ratio median ${median(restoreRatios).toFixed(2)} (target >= 0.5); peak RSS growth ${(peakGrowth / 1048576).toFixed(1)} MiB (target < 64)`);
  src.disconnect();
  dst.disconnect();
} finally {
  await Promise.all([source.stop(), target.stop()]);
  await tmp.cleanup();
}
