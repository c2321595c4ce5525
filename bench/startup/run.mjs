// Time to ready and RSS after start: `caretaker run` (built, from dist/) against a bare Node HTTP
// server started the same way, in the same run.
// Usage: npm run bench:startup [-- --runs 7] [--env NAME=VALUE ...] [--node PATH ...]
// The agent gets the Environment= lines of systemd/caretaker.service (NODE_OPTIONS...), as installed; --env
// adds or overrides one, to try a setting before the unit has it. --node runs both under that node binary
// (default: the one running the bench); given more than once, the runs alternate between them, so two
// Node.js versions (e.g. 20 and Debian's 18) are compared under the same load.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { agentEnvironment, baseEnvironment, describeEnvironment } from '../unit-env.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { values: flags } = parseArgs({
  options: { runs: { type: 'string', default: '7' }, env: { type: 'string', multiple: true, default: [] }, node: { type: 'string', multiple: true } },
});
const runs = Math.max(1, Math.min(50, Number(flags.runs)));
const nodes = (flags.node ?? [process.execPath]).map((path) => ({ path, version: execFileSync(path, ['--version'], { encoding: 'utf8' }).trim() }));

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function rssKiB(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]);
}

async function measure(node, args, readyUrl, env) {
  const started = performance.now();
  const child = spawn(node, args, { stdio: 'ignore', cwd: root, env });
  const deadline = started + 10_000;
  for (;;) {
    try {
      if ((await fetch(readyUrl)).ok) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`${args.join(' ')} not ready within 10 s`);
    await sleep(5);
  }
  const readyMs = performance.now() - started;
  await sleep(1000);
  const rss = rssKiB(child.pid);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
  return { readyMs, rssKiB: rss };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const dir = mkdtempSync(join(tmpdir(), 'caretaker-bench-startup-'));
const results = nodes.map(() => ({ caretaker: [], bare: [] }));
try {
  for (let i = 0; i < runs; i++) {
    for (const [n, node] of nodes.entries()) {
      const [admin, metrics, bare] = [await freePort(), await freePort(), await freePort()];
      const config = join(dir, 'caretaker.yaml');
      writeFileSync(config, `agent: { stateDir: ${dir}/state }\nadmin: { listen: "127.0.0.1:${admin}" }\nmetrics: { listen: "127.0.0.1:${metrics}", host: true }\n`);
      results[n].caretaker.push(
        await measure(node.path, ['dist/caretaker.mjs', 'run', '--config', config], `http://127.0.0.1:${admin}/health`, agentEnvironment(flags.env)),
      );
      results[n].bare.push(
        await measure(node.path, ['-e', `require('http').createServer((q, s) => s.end('ok')).listen(${bare}, '127.0.0.1')`], `http://127.0.0.1:${bare}/`, baseEnvironment()),
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(`runs: ${runs} (medians); caretaker with ${describeEnvironment(flags.env) || 'no Environment= lines'} (systemd/caretaker.service${flags.env.length ? ' plus --env' : ''})`);
for (const [n, node] of nodes.entries()) {
  const summary = Object.fromEntries(
    Object.entries(results[n]).map(([name, samples]) => [name, { readyMs: median(samples.map((s) => s.readyMs)), rssMiB: median(samples.map((s) => s.rssKiB)) / 1024 }]),
  );
  console.log(`node ${node.version} (${node.path})`);
  console.log(`  caretaker run : ready ${summary.caretaker.readyMs.toFixed(0)} ms, RSS ${summary.caretaker.rssMiB.toFixed(1)} MiB`);
  console.log(`  bare node http: ready ${summary.bare.readyMs.toFixed(0)} ms, RSS ${summary.bare.rssMiB.toFixed(1)} MiB`);
  console.log(`  ratio         : ready ${(summary.caretaker.readyMs / summary.bare.readyMs).toFixed(2)}x, RSS ${(summary.caretaker.rssMiB / summary.bare.rssMiB).toFixed(2)}x (targets: ready < 500 ms, RSS < 1.5x)`);
}
