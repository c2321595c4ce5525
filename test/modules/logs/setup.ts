import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createTestContext, type TestModuleContext } from '../../helpers/module-context.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { configSchema } from '../../../src/modules/logs/config.js';
import { declareMetrics, type LogsMetrics } from '../../../src/modules/logs/metrics.js';
import { CHECK_TASK, Rotator, type RotatorOptions } from '../../../src/modules/logs/rotator.js';

/** 120 MiB of text that level 9 takes a while over, so a test can catch the compression in progress. */
export function slowToCompress(): Buffer {
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = 97 + ((i * 7919) % 26);
  return Buffer.concat(Array.from({ length: 120 }, () => block));
}

/** A fake clock the tests move by hand. */
export class Clock {
  constructor(public ms: number) {}
  now = (): Date => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
  set(iso: string): void {
    this.ms = new Date(iso).getTime();
  }
}

export interface Fixture {
  dir: string;
  tc: TestModuleContext;
  metrics: LogsMetrics;
  clock: Clock;
  rotator: Rotator;
  /** Checks every set now, as the minute's schedule does (or waits for the check in flight). */
  tick(): Promise<void>;
  /** A new Rotator on the same state dir and config, as after an agent restart. */
  restart(config?: unknown[]): Rotator;
  metric(name: string, labels: Record<string, string>): Promise<number | undefined>;
  cleanup(): Promise<void>;
}

/** A Rotator over a temp directory (0755) with an injected clock; `config` items get `paths` relative to the dir. */
export async function makeFixture(config: (dir: string) => unknown[], startIso = '2026-01-10T12:00:00Z', options: Omit<RotatorOptions, 'now'> = {}): Promise<Fixture> {
  const temp: TempDir = await makeTempDir('logs');
  const dir = join(temp.path, 'logs');
  await mkdir(dir, { mode: 0o755 });
  const tc = await createTestContext('logs');
  const metrics = declareMetrics(tc.registrar);
  const clock = new Clock(new Date(startIso).getTime());
  const rotators: Rotator[] = [];
  const build = (items: unknown[]) => {
    const rotator = new Rotator(tc.ctx, configSchema.parse(items), metrics, { ...options, now: clock.now });
    rotators.push(rotator);
    return rotator;
  };
  const fixture: Fixture = {
    dir,
    tc,
    metrics,
    clock,
    rotator: build(config(dir)),
    async tick() {
      await tc.runTask(CHECK_TASK);
    },
    restart(items) {
      return build(items ?? config(dir));
    },
    async metric(name, labels) {
      const metric = await tc.registry.getSingleMetric(name)?.get();
      return metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
    },
    async cleanup() {
      for (const r of rotators) await r.stop();
      await tc.dispose();
      await temp.cleanup();
    },
  };
  return fixture;
}

/** Names in a directory, sorted. */
export async function list(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** Content of a log file, gunzipped when it ends in .gz. */
export async function readLog(path: string): Promise<string> {
  const data = await readFile(path);
  return path.endsWith('.gz') ? gunzipSync(data).toString('utf8') : data.toString('utf8');
}
