// caretaker-test: run-alone (it measures latency and timeouts, which other tests' load would distort)
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import Fastify from 'fastify';
import { errorHandler } from '../../../src/agent/admin/error-handler.js';
import { routes } from '../../../src/modules/logs/routes.js';
import { makeFixture } from './setup.js';

const MIB = 1024 * 1024;
const SIZE_MIB = 1024;

/** 1 GiB of access-log-like lines, written in a few seconds (one 1 MiB block, varied per copy). */
async function writeBigLog(path: string): Promise<void> {
  const lines: string[] = [];
  for (let i = 0, length = 0; length < MIB; i++) {
    const line = `127.0.0.${i % 250} - - [23/Nov/2026:15:04:${String(i % 60).padStart(2, '0')} +0000] "GET /api/v1/items/${(i * 7919) % 100_000}?page=${i % 13} HTTP/1.1" 200 ${(i * 31) % 5000} "-" "wrk/4.2"\n`;
    lines.push(line);
    length += line.length;
  }
  const block = Buffer.from(lines.join('')).subarray(0, MIB);
  const handle = await open(path, 'w');
  try {
    for (let i = 0; i < SIZE_MIB; i++) {
      block.write(String(i).padStart(8, '0'), 0);
      await handle.write(block);
    }
  } finally {
    await handle.close();
  }
}

async function gunzippedBytes(path: string): Promise<number> {
  let total = 0;
  for await (const chunk of createReadStream(path).pipe(createGunzip())) total += (chunk as Buffer).length;
  return total;
}

test(`the event loop, the admin API and /metrics stay responsive while ${SIZE_MIB} MiB are compressed`, async (t) => {
  const f = await makeFixture((dir) => [{ name: 'big', paths: [join(dir, 'big.log')], rotate: { maxSize: '2GiB' }, compress: true }]);
  t.after(() => f.cleanup());
  await writeBigLog(join(f.dir, 'big.log'));
  await f.rotator.start();
  await f.tick();

  const app = Fastify();
  app.setErrorHandler(errorHandler);
  await app.register(routes, { prefix: '/logs', live: { current: () => f.rotator } });
  app.get('/metrics', async () => f.tc.registry.metrics());
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());

  // Warm up: fetch (undici) and fastify's route compilation load code synchronously on first use.
  for (const path of ['/logs', '/metrics']) await (await fetch(`${address}${path}`)).text();

  const latencies: number[] = [];
  const pollWhile = async (busy: () => boolean) => {
    while (busy()) {
      for (const path of ['/logs', '/metrics']) {
        const sent = performance.now();
        const response = await fetch(`${address}${path}`);
        await response.text();
        assert.equal(response.status, 200);
        latencies.push(performance.now() - sent);
      }
      await sleep(50);
    }
  };

  // The machine's own noise (other processes on a shared CI box) over the same kind of window, without compression.
  const baseline = monitorEventLoopDelay({ resolution: 5 });
  baseline.enable();
  const baselineEnd = performance.now() + 2000;
  await pollWhile(() => performance.now() < baselineEnd);
  baseline.disable();
  latencies.length = 0;

  const delay = monitorEventLoopDelay({ resolution: 5 });
  const started = performance.now();
  delay.enable();
  const rotation = f.rotator.rotate('big');
  let finished = false;
  void rotation.finally(() => (finished = true));
  await pollWhile(() => !finished);
  const outcome = await rotation;
  delay.disable();
  const seconds = (performance.now() - started) / 1000;
  const maxDelayMs = delay.max / 1e6;
  const maxLatencyMs = Math.max(...latencies);
  t.diagnostic(
    `compressed ${SIZE_MIB} MiB in ${seconds.toFixed(2)} s (${(SIZE_MIB / seconds).toFixed(0)} MiB/s); event-loop delay max ${maxDelayMs.toFixed(1)} ms, ` +
      `p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms; ${latencies.length} admin/metrics requests, max ${maxLatencyMs.toFixed(1)} ms; ` +
      `baseline without compression: max ${(baseline.max / 1e6).toFixed(1)} ms, p99 ${(baseline.percentile(99) / 1e6).toFixed(1)} ms; load ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cpus`,
  );
  assert.equal(outcome.result, 'success', outcome.errors.join('; '));
  assert.ok(latencies.length >= 4, 'the compression was too quick to measure anything');
  // The spec: every admin/metrics answer in < 50 ms while 1 GiB is compressed. This file runs alone
  // (test/run.sh), so the only load is its own; compressing on the event loop would stall every block.
  assert.ok(maxLatencyMs < 50, `an admin/metrics request took ${maxLatencyMs} ms`);
  assert.ok(delay.percentile(99) / 1e6 < 50, `event loop p99 delay ${delay.percentile(99) / 1e6} ms`);

  const gz = (await readdir(f.dir)).find((n) => n.endsWith('.gz'))!;
  assert.equal(await gunzippedBytes(join(f.dir, gz)), SIZE_MIB * MIB, 'the multi-member .gz decompresses to the whole file');
  assert.ok((await f.metric('caretaker_log_compression_ratio', { log: 'big' }))! < 0.3);
});
