// caretaker-test: run-alone (it floods the agent's admin API and measures whether a probe keeps its deadline)
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireBinaries } from '../../harness/deps.js';
import { freePort } from '../../harness/ports.js';
import { runCommand } from '../../harness/process.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { spawnCaretaker, type AgentProcess } from '../../helpers/spawn.js';

const FLOOD_SECONDS = 15;
const FLOOD_CONNECTIONS = 500;

let redis: RedisServer;
let dir: string;
let agent: AgentProcess;
let admin: number;
let metrics: number;

before(async () => {
  [redis, dir, admin, metrics] = await Promise.all([startRedis(), mkdtemp(join(tmpdir(), 'caretaker-flood-')), freePort(), freePort()]);
  const config = [
    `agent: { stateDir: ${dir}/state }`,
    `admin: { listen: "127.0.0.1:${admin}" }`,
    `metrics: { listen: "127.0.0.1:${metrics}", host: false }`,
    'probes:',
    `  - { name: cache, type: redis, url: "${redis.url}", interval: 1s, timeout: 900ms, critical: true }`,
  ].join('\n');
  await writeFile(join(dir, 'caretaker.yaml'), `${config}\n`);
  agent = spawnCaretaker(['run', '--config', join(dir, 'caretaker.yaml')]);
  await agent.waitForLine((line) => line.msg === 'probe up');
});

after(async () => {
  agent?.child.kill('SIGKILL');
  await agent?.exited;
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function sample(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

async function probeView(): Promise<{ last: { at: string; reason: string; latencyMs: number; loopLateMs: number } | null }> {
  const res = await fetch(`http://127.0.0.1:${admin}/probes/cache`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
  return res ? ((await res.json()) as never) : { last: null };
}

test(`a critical redis probe (900 ms timeout) stays up while wrk floods the admin API with ${FLOOD_CONNECTIONS} connections for ${FLOOD_SECONDS} s`, async () => {
  const { wrk } = requireBinaries(['wrk']);
  const failuresBefore = await sample('caretaker_probe_checks_total{probe="cache",kind="redis",result="failure",reason="timeout"}');
  const successesBefore = await sample('caretaker_probe_checks_total{probe="cache",kind="redis",result="success",reason="ok"}');
  // Connected before wrk's burst of connections fills the listen backlog (a SYN dropped then waits seconds to be resent);
  // the requests below reuse this keep-alive connection.
  const warm = await fetch(`http://127.0.0.1:${admin}/health/deep`);
  await warm.text();
  assert.equal(warm.status, 200);
  const flood = runCommand(wrk, ['-t2', `-c${FLOOD_CONNECTIONS}`, `-d${FLOOD_SECONDS}s`, `http://127.0.0.1:${admin}/status`], { timeoutMs: (FLOOD_SECONDS + 30) * 1000 });
  let flooding = true;
  void flood.finally(() => (flooding = false)).catch(() => {});

  // Readiness asked the way a load balancer would, one request at a time, while the flood runs.
  const deep: number[] = [];
  const checks = new Map<string, string>();
  while (flooding) {
    const res = await fetch(`http://127.0.0.1:${admin}/health/deep`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    deep.push(res?.status ?? 0);
    await res?.body?.cancel();
    const { last } = await probeView();
    if (last) checks.set(last.at, `${last.reason} ${Math.round(last.latencyMs)}/${Math.round(last.loopLateMs)}`);
    await sleep(200);
  }
  const wrkOut = await flood;
  const requests = Number(/(\d+) requests in/.exec(wrkOut)?.[1]);

  const downs = agent.lines.filter((line) => line.msg === 'probe down');
  const timeouts = (await sample('caretaker_probe_checks_total{probe="cache",kind="redis",result="failure",reason="timeout"}')) - failuresBefore;
  const successes = (await sample('caretaker_probe_checks_total{probe="cache",kind="redis",result="success",reason="ok"}')) - successesBefore;
  const summary = `wrk: ${requests} requests; checks: ${successes} ok, ${timeouts} timeouts; probe down ${downs.length} times; /health/deep: ${deep.length} asked, ${deep.filter((s) => s !== 200).length} not 200 (${deep.join(' ')})`;
  console.log(summary, 'checks (ms wall/late):', [...checks.values()].join(', '));
  assert.ok(requests > 10_000, `the flood was too light to prove anything:\n${wrkOut}`);
  assert.equal(downs.length, 0, `${summary}\n${JSON.stringify(downs)}`);
  assert.equal(timeouts, 0, summary);
  assert.ok(successes >= FLOOD_SECONDS / 2, summary);
  assert.deepEqual(deep.filter((s) => s !== 200), [], summary);
});
