import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** Running fixtures/writer.mjs, the numbered-line writer of the no-line-lost tests. */
const WRITER = fileURLToPath(new URL('./fixtures/writer.mjs', import.meta.url));
/** A bound only: the test stops the writer (SIGTERM) after its rotations. */
export const WRITE_MS = 25_000;
export const GAP_MS = 800;
export const MAX_LINES = 10_000_000;
export const ROTATIONS = 6;

export interface WriterRun {
  done: Promise<{ lines: number; reopens: number }>;
  running(): boolean;
  stop(): void;
}

export function startWriter(log: string, pidFile: string, reopenDelayMs = 0): WriterRun {
  const child = spawn(process.execPath, [WRITER, log, pidFile, String(WRITE_MS), String(MAX_LINES), String(reopenDelayMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let exited = false;
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const done = new Promise<{ lines: number; reopens: number }>((resolve, reject) => {
    child.once('exit', (code) => {
      exited = true;
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`writer exited with ${code}`));
    });
  });
  return { done, running: () => !exited, stop: () => child.kill('SIGTERM') };
}

export async function waitForFile(path: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await stat(path).then(() => true, () => false)) return;
    await sleep(20);
  }
  throw new Error(`${path} did not appear`);
}

/** Rotates `count` times, GAP_MS apart, while the writer runs, then stops the writer. */
export async function rotateWhileWriting(writer: WriterRun, rotate: () => Promise<void>, count = ROTATIONS): Promise<number> {
  let rotations = 0;
  while (writer.running() && rotations < count) {
    await sleep(GAP_MS);
    if (!writer.running()) break;
    await rotate();
    rotations++;
  }
  await sleep(GAP_MS);
  writer.stop();
  return rotations;
}

