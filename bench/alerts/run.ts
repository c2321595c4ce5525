// 1,000 conditions flapping for 60 s through the real agent: messages the alerts module sends (the grouping
// ratio) and the CPU and memory it adds, against the same agent and the same flapping without the module.
// Usage: node --import tsx bench/alerts/run.ts [--conditions 1000] [--duration 60] [--flip 0.02] [--group 30s] [--rounds 1]
//   --flip   chance that a condition changes state (fires or resolves) at each 1 s tick.
// Each run is a fresh child process (`--child with|without`) holding an in-process Agent with a bench module
// that fires and resolves the conditions on a 1 s schedule; "with" adds the alerts section, one webhook
// channel pointed at a loopback receiver in this process. Runs alternate without/with; medians are printed.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { z } from 'zod';
import { Agent } from '../../src/agent/agent.js';
import { defineModule, type ModuleContext, type ModuleInstance } from '../../src/agent/kit/module.js';
import { createRootLogger, SecretSet } from '../../src/agent/logger.js';
import { SdNotify } from '../../src/agent/sd-notify.js';
import { alerts } from '../../src/modules/alerts/index.js';
import { memoryOf } from '../proc-memory.js';

const { values: flags } = parseArgs({
  options: {
    conditions: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '60' },
    flip: { type: 'string', default: '0.02' },
    group: { type: 'string', default: '30s' },
    rounds: { type: 'string', default: '1' },
    child: { type: 'string' },
    hook: { type: 'string' },
  },
});
const conditions = Math.max(1, Math.min(10_000, Number(flags.conditions)));
const durationS = Math.max(5, Math.min(300, Number(flags.duration)));
const rounds = Math.max(1, Math.min(5, Number(flags.rounds)));
const flip = Math.max(0, Math.min(1, Number(flags.flip)));
const WARMUP_MS = 5_000;

const flapperSchema = z.strictObject({ count: z.number().int(), flip: z.number(), seed: z.number().int() });

/** Fires and resolves `count` conditions, each flipping with chance `flip` per second (a seeded generator: both runs flap alike). */
class Flapper implements ModuleInstance<z.output<typeof flapperSchema>> {
  events = 0;
  constructor(
    private readonly ctx: ModuleContext,
    private readonly config: z.output<typeof flapperSchema>,
  ) {}
  async start() {
    let state = this.config.seed;
    const random = () => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const firing = new Array<boolean>(this.config.count).fill(false);
    this.ctx.schedule({ name: 'flap', everyMs: 1_000 }, async () => {
      for (let i = 0; i < firing.length; i++) {
        if (random() >= this.config.flip) continue;
        firing[i] = !firing[i];
        this.events++;
        const key = `bench:c${i}:down`;
        if (firing[i]) this.ctx.conditions.fire({ key, severity: i % 10 === 0 ? 'critical' : 'warning', summary: `c${i} is down`, detail: 'flapping on purpose', item: `c${i}` });
        else this.ctx.conditions.resolve(key);
      }
    });
  }
  async reload() {}
  async stop() {}
  health() {
    return { status: 'ok' as const };
  }
  status() {
    return { events: this.events };
  }
}

const flapper = defineModule({
  name: 'flapper',
  prefix: '/flapper',
  config: flapperSchema,
  metrics: () => undefined,
  routes: async () => undefined,
  create: (ctx, config) => new Flapper(ctx, config),
});

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

async function child(mode: 'with' | 'without', hook: string): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'caretaker-bench-alerts-'));
  const configPath = path.join(dir, 'caretaker.yaml');
  const alertsSection = `alerts:\n  group: ${flags.group}\n  host: { diskFree: 0, memoryAvailable: 0 }\n  channels:\n    - { name: hook, type: webhook, url: "${hook}" }\n`;
  await writeFile(
    configPath,
    `agent: { stateDir: ${path.join(dir, 'state')} }\nadmin: { listen: "127.0.0.1:0" }\nmetrics: { listen: "127.0.0.1:0", host: false }\n` +
      `flapper: { count: ${conditions}, flip: ${flip}, seed: 42 }\n${mode === 'with' ? alertsSection : ''}`,
  );
  const secrets = new SecretSet();
  const log = createRootLogger({ secrets, level: 'warn', destination: pino.destination('/dev/null') });
  const agent = new Agent({ configPath, modules: mode === 'with' ? [flapper, alerts] : [flapper], log, secrets, version: 'bench', notify: new SdNotify(pino({ level: 'silent' }), {}) });
  await agent.boot();
  await sleep(WARMUP_MS);
  const cpuStart = cpuMs();
  const started = Date.now();
  await sleep(durationS * 1000);
  const cpu = cpuMs() - cpuStart;
  const elapsed = Date.now() - started;
  // After a full collection, so the figure is what is kept, not how far the young generation grew this minute.
  (globalThis as { gc?: () => void }).gc?.();
  await sleep(500);
  const memory = memoryOf(process.pid);
  const heapKiB = process.memoryUsage().heapUsed / 1024;
  const status = agent.status().modules.find((m) => m.name === 'flapper')?.status as { events: number } | undefined;
  await agent.shutdown();
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify({ mode, cpuPercent: (cpu / elapsed) * 100, rssKiB: memory.rssKiB, anonKiB: memory.anonKiB, heapKiB, events: status?.events ?? 0 })}\n`);
}

interface ChildResult {
  mode: string;
  cpuPercent: number;
  rssKiB: number;
  anonKiB: number;
  heapKiB: number;
  events: number;
}

function runChild(mode: 'with' | 'without', hook: string): Promise<ChildResult> {
  const script = fileURLToPath(import.meta.url);
  const args = ['--expose-gc', '--import', 'tsx', script, '--child', mode, '--hook', hook, '--conditions', String(conditions), '--duration', String(durationS), '--flip', String(flip), '--group', flags.group!];
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), (durationS + 60) * 1000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`bench child (${mode}) exited ${code}: ${out}`));
      else resolve(JSON.parse(line) as ChildResult);
    });
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function parent(): Promise<void> {
  let messages = 0;
  let lines = 0;
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      messages++;
      lines += (JSON.parse(body) as { alerts: unknown[] }).alerts.length;
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const without: ChildResult[] = [];
  const withAlerts: Array<ChildResult & { messages: number; lines: number }> = [];
  try {
    for (let round = 0; round < rounds; round++) {
      without.push(await runChild('without', hook));
      messages = 0;
      lines = 0;
      const result = await runChild('with', hook);
      withAlerts.push({ ...result, messages, lines });
    }
  } finally {
    receiver.close();
  }
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} CPUs); node ${process.version}; from source through tsx`);
  console.log(`${conditions} conditions, each flipping with chance ${flip} per second, ${durationS} s measured after ${WARMUP_MS / 1000} s warm-up; alerts group ${flags.group}, one webhook channel; ${rounds} round(s), medians`);
  console.log('| run | condition changes | messages | alert lines | CPU % of a core | RSS MiB | anon MiB | heap used MiB |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of without) console.log(`| without alerts | ${r.events} | - | - | ${r.cpuPercent.toFixed(2)} | ${mib(r.rssKiB)} | ${mib(r.anonKiB)} | ${mib(r.heapKiB)} |`);
  for (const r of withAlerts) console.log(`| with alerts | ${r.events} | ${r.messages} | ${r.lines} | ${r.cpuPercent.toFixed(2)} | ${mib(r.rssKiB)} | ${mib(r.anonKiB)} | ${mib(r.heapKiB)} |`);
  const addedCpu = median(withAlerts.map((r) => r.cpuPercent)) - median(without.map((r) => r.cpuPercent));
  const addedRss = median(withAlerts.map((r) => r.rssKiB)) - median(without.map((r) => r.rssKiB));
  const addedHeap = median(withAlerts.map((r) => r.heapKiB)) - median(without.map((r) => r.heapKiB));
  const events = median(withAlerts.map((r) => r.events));
  const sent = median(withAlerts.map((r) => r.messages));
  console.log(`grouping: ${events} condition changes -> ${sent} messages (${(events / Math.max(1, sent)).toFixed(0)} changes per message)`);
  console.log(`added by the alerts module: CPU ${addedCpu.toFixed(2)} % of a core (target < 1 %: ${addedCpu < 1 ? 'met' : 'NOT met'}), RSS ${mib(addedRss)} MiB (target < 5 MiB: ${addedRss < 5 * 1024 ? 'met' : 'NOT met'}), heap used ${mib(addedHeap)} MiB; both after a full GC`);
}

// Bounded: whatever hangs, the process exits.
setTimeout(() => {
  console.error('bench/alerts: still running past its bound; giving up');
  process.exit(3);
}, (rounds * 2 + 1) * (durationS + 90) * 1000).unref();

if (flags.child === 'with' || flags.child === 'without') await child(flags.child, flags.hook!);
else await parent();
