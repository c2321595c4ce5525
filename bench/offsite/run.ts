// Off-site copies: the backups module (pg_dump -Z0, verify, restic backup of the verified file) against the
// by-hand pipeline `pg_dump -Fc | restic backup --stdin`, both into sftp repositories on a loopback sshd.
// A second agent job sets `compress: 6` (pg_dump's own default level, so no -Z0): it dumps what the by-hand
// pipeline dumps, so its ratio is the agent's own overhead (verify, then a serial upload) apart from the
// -Z0 trade-off (restic compressing the plain dump for dedup across days).
// Day one: wall time and the agent's peak RSS over idle. Day two, after an UPDATE of 1 % of the rows in one
// block of ids (recent rows, as most databases change), and day three, after 1 % scattered over the whole
// table (every 100th row): what each upload stored, -Z0 + restic compression against pg_dump's own
// compression. Stored bytes are the growth of the repository's directory: restic 0.14's data_added counts
// bytes before compression.
//
//   node --import tsx bench/offsite/run.ts [--size-mb 256]
//
// One round per side and day (the whole run is bounded: three dumps and three uploads per side).
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { configSchema } from '../../src/modules/backups/config.js';
import { declareMetrics } from '../../src/modules/backups/metrics.js';
import { BackupRunner } from '../../src/modules/backups/runner.js';
import { requireBinaries } from '../../test/harness/deps.js';
import { startPostgres } from '../../test/harness/postgres.js';
import { startSshd } from '../../test/harness/sshd.js';
import { makeTempDir } from '../../test/harness/tmpdir.js';
import { createTestContext } from '../../test/helpers/module-context.js';

const { values } = parseArgs({ options: { 'size-mb': { type: 'string', default: '256' } } });
const sizeMb = Number(values['size-mb']);
if (!(sizeMb >= 16 && sizeMb <= 2048)) throw new Error('--size-mb: 16 to 2048');
const PASSWORD = 'bench offsite password';
const startLoad = loadavg();

/** Runs a bash pipeline; resolves with its stdout and the seconds it took. */
function timed(script: string, env: NodeJS.ProcessEnv): Promise<{ seconds: number; stdout: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.once('close', (code) => (code === 0 ? resolve({ seconds: (performance.now() - started) / 1000, stdout }) : reject(new Error(`${script}: exit ${code}`))));
  });
}

/** Bytes of the files under dir (a repository on the sshd's disk). */
async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  return total;
}
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

const [pg, sshd, tmp] = await Promise.all([startPostgres(), startSshd(), makeTempDir('bench-offsite')]);
try {
  // Rows of hex text and numbers: compressible as real data is, not a run of one byte.
  const rows = Math.round((sizeMb * 1e6) / 120);
  await pg.psql('CREATE DATABASE bench');
  await pg.psql(
    `CREATE TABLE t (id bigint PRIMARY KEY, a text, b text, n numeric, d timestamptz);
     INSERT INTO t SELECT g, md5(g::text), md5((g * 7)::text) || md5((g * 13)::text), g * 1.5, timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, ${rows}) g;`,
    'bench',
  );
  await pg.psql('VACUUM ANALYZE t', 'bench');
  const size = Number((await pg.psql("SELECT pg_database_size('bench')")).trim());
  const url = pg.url.replace(/\/postgres$/, '/bench');
  const options = { 'sftp.command': sshd.sshCommand };
  const agentRemote = { repository: sshd.repository('agent'), password: PASSWORD, init: true, options };
  const compressedRemote = { ...agentRemote, repository: sshd.repository('agent-compressed') };
  const handRepo = sshd.repository('hand');
  const resticEnv = { ...process.env, RESTIC_PASSWORD: PASSWORD, RESTIC_REPOSITORY: handRepo };
  const sftpOption = `-o ${JSON.stringify(`sftp.command=${sshd.sshCommand}`)}`;
  await timed(`restic --no-cache ${sftpOption} init >/dev/null`, resticEnv);
  // The harness's pg_dump: the newest installed, the same major as the server it starts.
  const pgDump = requireBinaries(['pg_dump']).pg_dump;
  const pgEnv = { ...resticEnv, PGPASSWORD: pg.password };
  const byHand = () =>
    timed(
      `${pgDump} -Fc --no-password --dbname=${JSON.stringify(url.replace(`:${encodeURIComponent(pg.password)}@`, '@'))} | restic --no-cache ${sftpOption} backup --json --stdin --stdin-filename bench.dump`,
      pgEnv,
    );

  const config = configSchema.parse({ dir: `${tmp.path}/backups`, remote: agentRemote, jobs: [
      { name: 'bench', type: 'postgres', url, schedule: '0 3 * * *' },
      { name: 'compressed', type: 'postgres', url, schedule: '0 3 * * *', compress: 6, remote: compressedRemote },
    ],
  });
  const test = await createTestContext('backups');
  const runner = new BackupRunner(test.ctx, config, declareMetrics(test.registrar));
  await runner.start();
  await test.settled();
  global.gc?.();
  const idleRss = process.memoryUsage().rss;
  const agentRun = async (job = 'bench') => {
    let peak = idleRss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = performance.now();
    runner.runNow(job);
    await test.settled();
    clearInterval(sampler);
    const last = runner.job(job).lastRun;
    if (last?.remote?.result !== 'success') throw new Error(`agent run failed: ${JSON.stringify(last)}`);
    // The local part (dump + verify) and the upload after it, apart: the upload waits for the verify.
    const split = `dump + verify ${last.durationSeconds.toFixed(1)} s, restic ${last.remote.durationSeconds.toFixed(1)} s`;
    return { seconds: (performance.now() - started) / 1000, peakGrowth: peak - idleRss, local: last.sizeBytes ?? 0, split };
  };
  const agentDir = join(sshd.dataDir, 'agent');
  const handDir = join(sshd.dataDir, 'hand');
  const compressedDir = join(sshd.dataDir, 'agent-compressed');
  const compressedRun = () => agentRun('compressed');
  const stored = async <T>(dir: string, run: () => Promise<T>): Promise<T & { stored: number }> => {
    const before = await bytesUnder(dir).catch(() => 0);
    const result = await run();
    return { ...result, stored: (await bytesUnder(dir)) - before };
  };
  const change = async (where: string) => {
    await pg.psql(`UPDATE t SET a = md5(random()::text) WHERE ${where}`, 'bench');
    await pg.psql('VACUUM t', 'bench');
  };

  const agent1 = await stored(agentDir, agentRun);
  const compressed1 = await stored(compressedDir, compressedRun);
  const hand1 = await stored(handDir, byHand);
  const block = Math.floor(rows * 0.9);
  await change(`id > ${block} AND id <= ${block + Math.round(rows / 100)}`);
  const hand2 = await stored(handDir, byHand);
  const agent2 = await stored(agentDir, agentRun);
  const compressed2 = await stored(compressedDir, compressedRun);
  await change('id % 100 = 0');
  const agent3 = await stored(agentDir, agentRun);
  const compressed3 = await stored(compressedDir, compressedRun);
  const hand3 = await stored(handDir, byHand);
  await runner.stop();
  await test.dispose();
  console.log(`database ${mb(size)} MB (${rows} rows); load average at start ${startLoad.map((l) => l.toFixed(2)).join(' ')}, at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`day 1 wall: agent ${agent1.seconds.toFixed(1)} s (dump -Z0 ${mb(agent1.local)} MB; ${agent1.split}) vs by hand ${hand1.seconds.toFixed(1)} s: ${(agent1.seconds / hand1.seconds).toFixed(2)}x (target <= 1.1x)`);
  console.log(`day 1 wall, agent with compress: 6 (pg_dump's own compression, no -Z0): ${compressed1.seconds.toFixed(1)} s (dump ${mb(compressed1.local)} MB; ${compressed1.split}) vs by hand ${hand1.seconds.toFixed(1)} s: ${(compressed1.seconds / hand1.seconds).toFixed(2)}x`);
  console.log(`agent peak RSS growth: day 1 ${mb(agent1.peakGrowth)} MB, day 2 ${mb(agent2.peakGrowth)} MB, day 3 ${mb(agent3.peakGrowth)} MB over idle ${mb(idleRss)} MB (target < 50 MiB)`);
  const ratio = (a: number, b: number) => (a / b).toFixed(3);
  console.log(`stored day 1: agent ${mb(agent1.stored)} MB, agent with compress: 6 ${mb(compressed1.stored)} MB, by hand ${mb(hand1.stored)} MB`);
  console.log(
    `stored day 2 (1 % in one block): agent ${mb(agent2.stored)} MB (${ratio(agent2.stored, agent1.stored)}x day 1), agent with compress: 6 ${mb(compressed2.stored)} MB (${ratio(compressed2.stored, compressed1.stored)}x), by hand ${mb(hand2.stored)} MB (${ratio(hand2.stored, hand1.stored)}x) (target <= 0.2x)`,
  );
  console.log(
    `stored day 3 (1 % scattered): agent ${mb(agent3.stored)} MB (${ratio(agent3.stored, agent1.stored)}x day 1), agent with compress: 6 ${mb(compressed3.stored)} MB (${ratio(compressed3.stored, compressed1.stored)}x), by hand ${mb(hand3.stored)} MB (${ratio(hand3.stored, hand1.stored)}x)`,
  );
  console.log(
    `day 2 / day 3 wall: agent ${agent2.seconds.toFixed(1)} / ${agent3.seconds.toFixed(1)} s, agent with compress: 6 ${compressed2.seconds.toFixed(1)} / ${compressed3.seconds.toFixed(1)} s, by hand ${hand2.seconds.toFixed(1)} / ${hand3.seconds.toFixed(1)} s`,
  );
} finally {
  await Promise.all([pg.stop(), sshd.stop()]);
  await tmp.cleanup();
}
