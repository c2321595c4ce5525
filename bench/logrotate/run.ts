// Rotate + gzip one big access log with Debian logrotate (`compress`, i.e. /bin/gzip -6) and with the
// caretaker logs module, in the same run on the same data; prints the time ratio and the agent's
// event-loop delay during its rotation. Bounded: one file each way.
// usage: node --import tsx bench/logrotate/run.ts [MiB=1024]
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createTestContext } from '../../test/helpers/module-context.js';
import { configSchema } from '../../src/modules/logs/config.js';
import { declareMetrics } from '../../src/modules/logs/metrics.js';
import { CHECK_TASK, Rotator } from '../../src/modules/logs/rotator.js';

const MIB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 1024);

async function writeAccessLog(path: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    let chunk = '';
    let written = 0;
    for (let i = 0; written < sizeMiB * MIB; i++) {
      chunk += `10.0.${(i >> 8) & 255}.${i & 255} - - [23/Nov/2026:15:${String((i >> 12) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')} +0000] "GET /api/v1/items/${(i * 7919) % 100_003}?page=${i % 17}&sort=${i % 3 ? 'asc' : 'desc'} HTTP/1.1" ${i % 50 ? 200 : 404} ${(i * 31) % 20_000} "https://example.com/p/${i % 211}" "Mozilla/5.0 (X11; Linux x86_64) rv:${i % 120}.0"\n`;
      if (chunk.length >= MIB) {
        const buffer = Buffer.from(chunk);
        await handle.write(buffer);
        written += buffer.length;
        chunk = '';
      }
    }
  } finally {
    await handle.close();
  }
}

const root = await mkdtemp(join(tmpdir(), 'caretaker-bench-logrotate-'));
try {
  const lrDir = join(root, 'logrotate');
  const ctDir = join(root, 'caretaker');
  await mkdir(lrDir, { mode: 0o755 });
  await mkdir(ctDir, { mode: 0o755 });
  await writeAccessLog(join(lrDir, 'access.log'));
  await copyFile(join(lrDir, 'access.log'), join(ctDir, 'access.log'));
  const bytes = (await stat(join(lrDir, 'access.log'))).size;

  // logrotate: rotate + compress (gzip -6 by default), dateext like ours.
  const conf = join(root, 'logrotate.conf');
  await writeFile(conf, `${join(lrDir, 'access.log')} {\n  compress\n  dateext\n  rotate 5\n}\n`);
  const lrStart = performance.now();
  execFileSync('logrotate', ['-f', '-s', join(root, 'logrotate.state'), conf]);
  const lrSeconds = (performance.now() - lrStart) / 1000;
  const lrOut = (await readdir(lrDir)).find((n) => n.endsWith('.gz'))!;
  const lrGz = (await stat(join(lrDir, lrOut))).size;

  // caretaker: the same through the module's own rotation path.
  const tc = await createTestContext('bench');
  const rotator = new Rotator(tc.ctx, configSchema.parse([{ name: 'bench', paths: [join(ctDir, 'access.log')], rotate: { every: 'monthly' }, compress: true }]), declareMetrics(tc.registrar));
  await rotator.start();
  await tc.runTask(CHECK_TASK);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const ctStart = performance.now();
  const outcome = await rotator.rotate('bench');
  const ctSeconds = (performance.now() - ctStart) / 1000;
  delay.disable();
  await rotator.stop();
  await tc.dispose();
  if (outcome.result !== 'success') throw new Error(outcome.errors.join('; '));
  const ctOut = (await readdir(ctDir)).find((n) => n.endsWith('.gz'))!;
  const ctGz = (await stat(join(ctDir, ctOut))).size;
  execFileSync('gzip', ['-t', join(ctDir, ctOut)]);

  const gzipVersion = execFileSync('gzip', ['--version']).toString().split('\n')[0];
  console.log(`input: ${(bytes / MIB).toFixed(0)} MiB access log; ${availableParallelism()} CPUs (${cpus()[0]?.model}); load ${loadavg()[0]!.toFixed(1)}; ${gzipVersion}; node ${process.version}`);
  console.log(`logrotate -f (compress, gzip -6): ${lrSeconds.toFixed(2)} s, ${(bytes / MIB / lrSeconds).toFixed(0)} MiB/s, ratio ${(lrGz / bytes).toFixed(4)}`);
  console.log(`caretaker logs (compress level 6): ${ctSeconds.toFixed(2)} s, ${(bytes / MIB / ctSeconds).toFixed(0)} MiB/s, ratio ${(ctGz / bytes).toFixed(4)} (gzip -t ok)`);
  console.log(`time ratio caretaker/logrotate: ${(ctSeconds / lrSeconds).toFixed(2)}x (target <= 1.0x)`);
  console.log(`agent event-loop delay during the rotation: max ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, mean ${(delay.mean / 1e6).toFixed(1)} ms`);
} finally {
  await rm(root, { recursive: true, force: true });
}
