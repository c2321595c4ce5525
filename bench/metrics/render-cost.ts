// Where one fresh /metrics answer's time goes: the agent with every module on (in this process), its
// registry rendered N times, each step timed on its own. Usage: node --import tsx bench/metrics/render-cost.ts [renders]
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { modules } from '../../src/modules/index.js';
import { toOpenMetrics } from '../../src/metrics/exposition.js';
import { makeTempDir } from '../../test/harness/tmpdir.js';
import { startTestAgent } from '../../test/helpers/agent.js';
import { allModulesConfig } from '../../test/metrics/all-modules.js';
import { percentile } from '../probes/scrape.js';

const gzip = promisify(gzipCallback);
const renders = Math.max(10, Math.min(2000, Number(process.argv[2] ?? 200)));
const dir = await makeTempDir('render-cost');
const t = await startTestAgent((await allModulesConfig(dir.path)).replace(/host: false/, 'host: true'), modules);
try {
  const registry = t.agent.registry;
  const steps: Record<string, number[]> = { 'registry.metrics()': [], toOpenMetrics: [], 'gzip level 6': [], total: [] };
  let text = '';
  for (let i = 0; i < renders + 20; i++) {
    const t0 = performance.now();
    text = await registry.metrics();
    const t1 = performance.now();
    const open = toOpenMetrics(text);
    const t2 = performance.now();
    await gzip(open, { level: 6 });
    const t3 = performance.now();
    if (i < 20) continue;
    steps['registry.metrics()']!.push(t1 - t0);
    steps.toOpenMetrics!.push(t2 - t1);
    steps['gzip level 6']!.push(t3 - t2);
    steps.total!.push(t3 - t0);
  }
  const series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
  console.log(`${renders} renders of ${series} series (${(text.length / 1024).toFixed(0)} KiB), every module on, host metrics on`);
  for (const [name, values] of Object.entries(steps)) {
    console.log(`${name.padEnd(20)} p50 ${percentile(values, 50).toFixed(2).padStart(6)} ms  p99 ${percentile(values, 99).toFixed(2).padStart(6)} ms`);
  }
} finally {
  await t.close();
  await dir.cleanup();
}
