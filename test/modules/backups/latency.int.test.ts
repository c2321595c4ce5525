// caretaker-test: run-alone (it measures latency and timeouts, which other tests' load would distort)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { modules } from '../../../src/modules/index.js';
import { baseConfig, startTestAgent, type TestAgent } from '../../helpers/agent.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';

/** pg_database_size target: the 1 GB. */
const DATABASE_BYTES = 1024 ** 3;
/** Rows of ~1 KiB: an id and a 1 KiB text (one md5 repeated: cheap to generate). */
const ROW_BYTES = 1100;
const BUDGET_MS = 75_000;
const PROBE = fileURLToPath(new URL('./latency-probe.ts', import.meta.url));

interface PathStats {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

describe('admin API and /metrics stay responsive during a 1 GB backup', () => {
  let pg: PostgresServer;
  let dir: TempDir;
  let agent: TestAgent;
  let databaseBytes = 0;
  let fillSeconds = 0;

  before(async () => {
    [pg, dir] = await Promise.all([startPostgres(), makeTempDir('backups-latency')]);
    const fillStarted = Date.now();
    await pg.psql('CREATE DATABASE big');
    // Unlogged and built by one INSERT … SELECT: the fastest way PostgreSQL fills 1 GB (no WAL); pg_dump dumps it like any table.
    const rows = Math.ceil(DATABASE_BYTES / ROW_BYTES);
    await pg.psql(`CREATE UNLOGGED TABLE wide AS SELECT g AS id, repeat(md5(g::text), 32) AS payload FROM generate_series(1, ${rows}) g`, 'big');
    databaseBytes = Number((await pg.psql("SELECT pg_database_size('big')", 'big')).trim());
    fillSeconds = (Date.now() - fillStarted) / 1000;
    const url = pg.url.replace(/\/postgres$/, '/big');
    agent = await startTestAgent(
      (root) => baseConfig(root, `backups:\n  dir: ${dir.path}\n  jobs:\n    - { name: big, type: postgres, url: "${url}", schedule: "0 3 1 1 *", compress: 0 }\n`),
      modules,
    );
  });

  after(async () => {
    await agent?.close();
    await pg?.stop();
    await dir?.cleanup();
  });

  it('/health, /backups and /metrics answer within 50 ms p99 (plus the host\'s own contention, measured from another process) while it runs', async (t) => {
    assert.ok(databaseBytes >= 0.95 * DATABASE_BYTES, `database is ${databaseBytes} bytes`);
    const probe = spawn(process.execPath, ['--import', 'tsx', PROBE, agent.adminUrl('/health'), agent.adminUrl('/backups'), agent.metricsUrl()], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    probe.stdout.setEncoding('utf8');
    probe.stdout.on('data', (text: string) => (output += text));
    try {
      while (!output.includes('ready\n')) await once(probe.stdout, 'data');
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const utilization = performance.eventLoopUtilization();
      const started = Date.now();
      const run = await fetch(agent.adminUrl('/backups/big/run'), { method: 'POST' });
      assert.equal(run.status, 202);
      let job: { state: string; lastRun: { result: string; sizeBytes?: number; message?: string } | null };
      do {
        await new Promise((r) => setTimeout(r, 1000));
        job = (await (await fetch(agent.adminUrl('/backups/big'))).json()) as typeof job;
        assert.ok(Date.now() - started < BUDGET_MS, 'backup still running after the time budget');
      } while (job.state === 'running');
      loop.disable();
      const busy = performance.eventLoopUtilization(utilization).utilization;
      const seconds = (Date.now() - started) / 1000;
      probe.kill('SIGTERM');
      await once(probe, 'close');
      const report = JSON.parse(output.split('\n').filter(Boolean).at(-1)!) as Record<string, PathStats>;
      assert.equal(job.lastRun?.result, 'success', job.lastRun?.message);

      t.diagnostic(`database ${(databaseBytes / 1024 ** 2).toFixed(0)} MiB (filled in ${fillSeconds.toFixed(1)} s), dump ${((job.lastRun?.sizeBytes ?? 0) / 1024 ** 2).toFixed(0)} MiB in ${seconds.toFixed(1)} s`);
      t.diagnostic(`agent event loop delay: p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms; busy ${(busy * 100).toFixed(1)} %`);
      for (const [path, stats] of Object.entries(report)) {
        t.diagnostic(`${path}: ${stats.count} requests, p50 ${stats.p50.toFixed(1)} ms, p99 ${stats.p99.toFixed(1)} ms, max ${stats.max.toFixed(1)} ms`);
      }
      // The 2-CPU test host is shared with other suites (load average 4-9): the probe's own event-loop delay is
      // what that contention alone costs any node process, and is allowed on top of the 50 ms.
      const hostDelay = report['probe event loop delay']!.p99;
      for (const [path, stats] of Object.entries(report).filter(([path]) => path.startsWith('/'))) {
        assert.ok(stats.count >= 20, `${path}: only ${stats.count} requests during the backup`);
        assert.ok(stats.p99 < 50 + hostDelay, `${path}: p99 ${stats.p99.toFixed(1)} ms (host contention p99 ${hostDelay.toFixed(1)} ms)`);
      }
    } finally {
      probe.kill('SIGKILL');
    }
  });
});
