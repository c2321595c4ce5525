// Backup time of the backups module against `pg_dump -Fc > file` alone (and, with --gzip, the usual
// `pg_dump | gzip` pipeline), on the same database in the same run; plus the agent's RSS over idle and the
// admin/metrics latency while the module's backup runs.
//
//   node --expose-gc --import tsx bench/backup/run.ts [--size-mb 256] [--rounds 4] [--gzip]
//
// The table is VACUUMed and read once before the first round, so neither side pays for hint bits or a cold
// cache the other then finds warm; rounds alternate the order (agent, pg_dump, pg_dump, agent, ...) so a
// drift in the machine's load hits both alike. Each round's ratio is pg_dump's time over the agent's (1.00:
// as fast); the verdict is the median over rounds. --size-mb 1024 gives the issue's >= 1 GB database.
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { errorHandler } from '../../src/agent/admin/error-handler.js';
import { configSchema } from '../../src/modules/backups/config.js';
import { declareMetrics } from '../../src/modules/backups/metrics.js';
import { routes } from '../../src/modules/backups/routes.js';
import { BackupRunner } from '../../src/modules/backups/runner.js';
import { pgTool } from '../../src/modules/backups/postgres/tools.js';
import { startPostgres } from '../../test/harness/postgres.js';
import { makeTempDir } from '../../test/harness/tmpdir.js';
import { createTestContext } from '../../test/helpers/module-context.js';

const { values } = parseArgs({
  options: { 'size-mb': { type: 'string', default: '256' }, rounds: { type: 'string', default: '4' }, gzip: { type: 'boolean', default: false } },
});
const sizeMb = Number(values['size-mb']);
const rounds = Number(values.rounds);
if (!(rounds >= 3 && rounds <= 20)) throw new Error('--rounds: 3 to 20 (the verdict is a median over rounds)');
const startLoad = loadavg();

/**
 * The module runs pg_dump at niceness 10 (spawn-stream.ts: a backup yields to the agent and the server); the
 * plain dumps get the same, or on a machine shared with other work the comparison is one of priorities.
 */
const DUMP_NICENESS = 10;

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs a shell pipeline with the password in the environment; resolves with seconds taken. */
function timed(script: string, env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', script], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('close', (code) => (code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`${script}: exit ${code}`))));
  });
}

/**
 * When the module's pg_dump (the one writing --format=custom; not `pg_dump --version`) starts and exits, seen in
 * /proc every 10 ms: what the agent adds before and after the dump, a split that the machine's load blurs
 * far less than the ratio of two whole runs does.
 */
function watchDump(): { stop(): Promise<{ startedAt: number; exitedAt: number }> } {
  let watching = true;
  let startedAt: number | undefined;
  let exitedAt: number | undefined;
  const alive = async (pid: number) => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    return stat !== undefined && stat.split(') ')[1]?.[0] !== 'Z';
  };
  const find = async () => {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (argv.some((a) => a.endsWith('/pg_dump')) && argv.includes('--format=custom')) return Number(entry);
    }
    return undefined;
  };
  const loop = (async () => {
    let pid: number | undefined;
    while (watching && exitedAt === undefined) {
      if (pid === undefined) {
        pid = await find();
        if (pid !== undefined) startedAt = performance.now();
      } else if (!(await alive(pid))) exitedAt = performance.now();
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      watching = false;
      await loop;
      if (startedAt === undefined || exitedAt === undefined) throw new Error('did not see the module\'s pg_dump start and exit');
      return { startedAt, exitedAt };
    },
  };
}

const pg = await startPostgres();
const tmp = await makeTempDir('bench-backup');
try {
  // Rows of about 330 bytes: ids, timestamps, hex text (compressible about 2:1) and a jsonb document.
  const rows = Math.ceil((sizeMb * 1024 * 1024) / 330);
  console.error(`filling ${rows} rows (~${sizeMb} MB)…`);
  await pg.psql('CREATE DATABASE bench');
  // In batches: one statement for a gigabyte outlasts the harness's 60 s psql timeout on a busy machine.
  const BATCH = 400_000;
  const columns = `g AS id, timestamptz '2024-01-01' + g * interval '1 second' AS at,
       md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS payload,
       jsonb_build_object('user', g % 100000, 'kind', (ARRAY['click','view','buy'])[1 + g % 3], 'note', repeat(md5(g::text), 3)) AS doc`;
  for (let from = 1; from <= rows; from += BATCH) {
    const to = Math.min(rows, from + BATCH - 1);
    const select = `SELECT ${columns} FROM generate_series(${from}, ${to}) g`;
    await pg.psql(from === 1 ? `CREATE TABLE events AS ${select}` : `INSERT INTO events ${select}`, 'bench');
  }
  await pg.psql('CREATE INDEX events_at ON events (at)', 'bench');
  // Hint bits and the visibility map set, every heap page read once: the first dump finds what the others find.
  await pg.psql('VACUUM (ANALYZE) events', 'bench');
  await pg.psql('SELECT count(*) FROM events WHERE length(payload) > 0 AND doc IS NOT NULL', 'bench');
  const dbSize = Number((await pg.psql("SELECT pg_database_size('bench')", 'bench')).trim());
  const url = pg.url.replace(/\/postgres$/, '/bench');
  const env = { ...process.env, PGPASSWORD: pg.password };
  const pgDump = pgTool('pg_dump', undefined);
  const conn = `--dbname=postgres://postgres@127.0.0.1:${pg.port}/bench`;

  // The module under the same conditions the agent gives it: a real ModuleContext (scheduler, conditions), its own registry, admin routes.
  const context = await createTestContext('backups');
  const registry = context.registry;
  const config = configSchema.parse({ dir: tmp.path, jobs: [{ name: 'bench', type: 'postgres', url, schedule: '0 3 1 1 *' }] });
  const runner = new BackupRunner(context.ctx, config, declareMetrics(context.registrar));
  const app = Fastify();
  app.setErrorHandler(errorHandler);
  await app.register(routes, { prefix: '/backups', live: { current: () => runner } });
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  await runner.start();

  // Warm fastify, undici and prom-client so the idle baseline and the latencies measure the backup, not first use.
  for (let i = 0; i < 20; i++) for (const path of ['/backups/bench', '/metrics']) await (await fetch(base + path)).arrayBuffer();

  const results = { split: [] as Array<{ before: number; dump: number; after: number }>, plain: [] as number[], gzip: [] as number[], module: [] as number[], dumpBytes: 0, peakRssDelta: 0, maxAdminMs: 0, maxMetricsMs: 0, probes: 0, maxLoopDelayMs: 0, p99LoopDelayMs: 0, loopUtilization: 0 };
  /**
   * Asks the agent for /backups/bench and /metrics ten times a second, in pg_dump's rounds as in the agent's:
   * on 2 cores that client and the answers take a fifth of a core, which only the agent's rounds paid before.
   */
  const probe = (onRss: (rss: number) => void, seen?: { maxAdminMs: number; maxMetricsMs: number; probes: number }) => {
    let sampling = true;
    const loop = (async () => {
      while (sampling) {
        onRss(process.memoryUsage().rss);
        for (const [path, key] of [['/backups/bench', 'maxAdminMs'], ['/metrics', 'maxMetricsMs']] as const) {
          const started = performance.now();
          await (await fetch(base + path)).arrayBuffer();
          if (seen) seen[key] = Math.max(seen[key], performance.now() - started);
        }
        if (seen) seen.probes++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    return {
      async stop() {
        sampling = false;
        await loop;
      },
    };
  };
  const plainDump = async () => {
    const sampler = probe(() => undefined);
    results.plain.push(await timed(`nice -n ${DUMP_NICENESS} ${pgDump} -Fc ${conn} > ${join(tmp.path, 'plain.dump')}`, env));
    await sampler.stop();
    results.dumpBytes = (await stat(join(tmp.path, 'plain.dump'))).size;
    await rm(join(tmp.path, 'plain.dump'));
  };
  const agentBackup = async () => {
    global.gc?.();
    const idleRss = process.memoryUsage().rss;
    let peakRss = idleRss;
    const sampler = probe((rss) => (peakRss = Math.max(peakRss, rss)), results);
    const eluStart = performance.eventLoopUtilization();
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const started = performance.now();
    runner.runNow('bench');
    const dump = watchDump();
    await runner.settled();
    const finished = performance.now();
    results.module.push((finished - started) / 1000);
    await sampler.stop();
    const { startedAt, exitedAt } = await dump.stop();
    results.split.push({ before: (startedAt - started) / 1000, dump: (exitedAt - startedAt) / 1000, after: (finished - exitedAt) / 1000 });
    loopDelay.disable();
    results.loopUtilization = Math.max(results.loopUtilization, performance.eventLoopUtilization(eluStart).utilization);
    results.maxLoopDelayMs = Math.max(results.maxLoopDelayMs, loopDelay.max / 1e6);
    results.p99LoopDelayMs = Math.max(results.p99LoopDelayMs, loopDelay.percentile(99) / 1e6);
    results.peakRssDelta = Math.max(results.peakRssDelta, peakRss - idleRss);
    const job = runner.job('bench');
    if (job.state !== 'ok') throw new Error(`module backup failed: ${JSON.stringify(job.lastRun)}`);
  };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [agentBackup, plainDump] : [plainDump, agentBackup];
    for (const step of order) {
      console.error(`round ${round + 1}: ${step === agentBackup ? 'caretaker backups' : 'pg_dump -Fc'}`);
      await step();
    }
    if (values.gzip) {
      console.error(`round ${round + 1}: pg_dump | gzip`);
      results.gzip.push(await timed(`nice -n ${DUMP_NICENESS} ${pgDump} ${conn} | nice -n ${DUMP_NICENESS} gzip > ${join(tmp.path, 'plain.sql.gz')}`, env));
      await rm(join(tmp.path, 'plain.sql.gz'));
    }
  }
  await runner.stop();
  await app.close();
  await context.dispose();

  const mb = dbSize / 1024 / 1024;
  const ratios = results.module.map((agent, i) => results.plain[i]! / agent);
  const line = (name: string, seconds: number) => `${name.padEnd(34)} ${seconds.toFixed(1).padStart(7)} s  ${(mb / seconds).toFixed(1).padStart(7)} MB/s`;
  const report = [
    `database: ${mb.toFixed(0)} MB (pg_database_size), custom-format dump ${(results.dumpBytes / 1024 / 1024).toFixed(0)} MB; ${rounds} rounds, order alternating (agent first in odd rounds); every pg_dump at niceness ${DUMP_NICENESS}`,
    ...results.module.map((agent, i) => `round ${i + 1}: caretaker ${agent.toFixed(1)} s, pg_dump -Fc ${results.plain[i]!.toFixed(1)} s, ratio ${ratios[i]!.toFixed(2)}${results.gzip[i] === undefined ? '' : `; pg_dump | gzip ${results.gzip[i]!.toFixed(1)} s`}`),
    line('pg_dump -Fc > file (median)', median(results.plain)),
    ...(results.gzip.length > 0 ? [line('pg_dump | gzip > file (median)', median(results.gzip))] : []),
    line('caretaker backup (median)', median(results.module)),
    ...results.split.map((x, i) => `round ${i + 1}, the agent's run: ${x.before.toFixed(2)} s before its pg_dump, ${x.dump.toFixed(1)} s pg_dump, ${x.after.toFixed(2)} s after (fsync, sha256, check, manifest, rename)`),
    `agent's own time around its pg_dump (median): ${median(results.split.map((x) => x.before + x.after)).toFixed(2)} s, ratio pg_dump / whole run ${median(results.split.map((x) => x.dump / (x.before + x.dump + x.after))).toFixed(3)}`,
    `median ratio vs pg_dump -Fc:          ${median(ratios).toFixed(2)} (pg_dump's time / the agent's; target >= 0.95)`,
    ...(results.gzip.length > 0 ? [`median ratio vs pg_dump | gzip:       ${(median(results.gzip) / median(results.module)).toFixed(2)}`] : []),
    `agent RSS over idle during backup:    +${(results.peakRssDelta / 1024 / 1024).toFixed(1)} MB`,
    `slowest GET /backups/:job during it:  ${results.maxAdminMs.toFixed(1)} ms; slowest /metrics: ${results.maxMetricsMs.toFixed(1)} ms (${results.probes} probes)`,
    `event loop delay during it:           p99 ${results.p99LoopDelayMs.toFixed(1)} ms, max ${results.maxLoopDelayMs.toFixed(1)} ms; event loop busy ${(results.loopUtilization * 100).toFixed(1)} %`,
    `host: ${cpus().length} CPUs shared with other work (pg_dump, the postgres backend and the agent share them); load average at the start ${startLoad.map((l) => l.toFixed(2)).join(', ')}, at the end ${loadavg().map((l) => l.toFixed(2)).join(', ')}`,
  ];
  console.log(report.join('\n'));
} finally {
  await pg.stop();
  await tmp.cleanup();
}
