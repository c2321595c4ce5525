// How the daemon's log reaches its reader: priorities for journald (which otherwise files every line at
// info), JSON for pipes, readable lines on a terminal.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { humanLine, isJournalStream, journalPrefix, logFormatFor } from '../../src/agent/log-output.js';
import { freePort } from '../harness/ports.js';

const MAIN = fileURLToPath(new URL('../../src/agent/main.ts', import.meta.url));
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'caretaker-log-output-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

test('pino levels map to sd-daemon priorities', () => {
  assert.deepEqual(['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map(journalPrefix), ['<2>', '<3>', '<4>', '<6>', '<7>', '<7>']);
});

test('JOURNAL_STREAM counts only when it names the descriptor itself (a pipe in between is not the journal)', async () => {
  const file = join(dir, 'stream');
  await writeFile(file, '');
  const handle = await open(file, 'r');
  try {
    const { dev, ino } = await stat(file);
    assert.equal(isJournalStream(handle.fd, { JOURNAL_STREAM: `${dev}:${ino}` }), true);
    assert.equal(isJournalStream(handle.fd, { JOURNAL_STREAM: `${dev}:${ino + 1}` }), false);
    assert.equal(logFormatFor(handle.fd, false, {}), 'json');
    assert.equal(logFormatFor(handle.fd, true, {}), 'human');
    assert.equal(logFormatFor(handle.fd, true, { JOURNAL_STREAM: `${dev}:${ino}` }), 'journal');
  } finally {
    await handle.close();
  }
});

test('a human line: time, level, module, message, then the fields', () => {
  const line = humanLine(JSON.stringify({ level: 'warn', time: '2026-12-01T10:11:12.345Z', pid: 1, module: 'probes', probe: 'redis', reason: 'refused', detail: 'a b', msg: 'probe down' }));
  assert.equal(line, '10:11:12.345 WARN  probes: probe down probe=redis reason=refused detail="a b"\n');
});

test('the daemon under journald: every line carries the priority of its level', async () => {
  const config = join(dir, 'caretaker.yaml');
  await writeFile(
    config,
    `agent: { stateDir: ${join(dir, 'state')} }\nadmin: { listen: "127.0.0.1:${await freePort()}" }\nmetrics: { listen: "127.0.0.1:${await freePort()}", host: false }\n`,
  );
  const logFile = join(dir, 'journal.log');
  const out = await open(logFile, 'w');
  const { dev, ino } = await out.stat();
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'run', '--config', config], {
    env: { ...process.env, JOURNAL_STREAM: `${dev}:${ino}`, NOTIFY_SOCKET: '', CARETAKER_LOG_LEVEL: 'debug' },
    stdio: ['ignore', out.fd, 'pipe'],
  });
  try {
    const deadline = Date.now() + 20_000;
    while (!(await readFile(logFile, 'utf8')).includes('agent ready') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    const lines = (await readFile(logFile, 'utf8')).split('\n').filter(Boolean);
    assert.ok(lines.some((l) => l.startsWith('<6>{') && l.includes('"msg":"agent ready"')), lines.join('\n'));
    for (const line of lines) assert.match(line, /^<[2-7]>\{"level":"(\w+)"/);
    for (const line of lines) assert.equal(line.slice(0, 3), journalPrefix(/"level":"(\w+)"/.exec(line)![1]!));
  } finally {
    child.kill('SIGKILL');
    await out.close();
  }
});
