import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExecError, execFile } from '../../../src/agent/kit/exec.js';

test('returns output of a successful command', async () => {
  const result = await execFile('sh', ['-c', 'echo out; echo err >&2']);
  assert.equal(result.stdout, 'out\n');
  assert.equal(result.stderr, 'err\n');
});

test('a non-zero exit names the code and the last stderr line', async () => {
  await assert.rejects(execFile('sh', ['-c', 'echo first >&2; echo "disk full" >&2; exit 3']), (err: unknown) => {
    assert.ok(err instanceof ExecError);
    assert.equal(err.exitCode, 3);
    assert.match(err.message, /^sh: exited with 3: disk full$/);
    return true;
  });
});

test('a missing binary is an ExecError, not a crash', async () => {
  await assert.rejects(execFile('/nonexistent/binary', []), (err: unknown) => err instanceof ExecError && /ENOENT/.test(err.message));
});

test('timeouts and aborts kill the command, escalating to SIGKILL', async () => {
  const started = Date.now();
  await assert.rejects(execFile('sh', ['-c', 'trap "" TERM; sleep 5'], { timeoutMs: 100, killGraceMs: 200 }), /timed out after 100 ms/);
  assert.ok(Date.now() - started < 2000);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(execFile('sleep', ['5'], { signal: controller.signal }), /cancelled/);
});

test('output is bounded to the tail', async () => {
  const result = await execFile('sh', ['-c', 'head -c 1000000 /dev/zero | tr "\\0" a; echo END'], { maxOutputBytes: 1024 });
  assert.ok(result.stdout.length <= 1024);
  assert.ok(result.stdout.endsWith('END\n'));
});

test('a command that starts children still gets its stdin, and its exit status is reported', async () => {
  const result = await execFile('sh', ['-c', 'cat; echo done >&2'], { input: 'hello', startsChildren: true });
  assert.equal(result.stdout, 'hello');
  assert.equal(result.stderr, 'done\n');
  await assert.rejects(execFile('sh', ['-c', 'exit 4'], { startsChildren: true }), (err: unknown) => err instanceof ExecError && err.exitCode === 4);
});

test('inputFile is the command\'s stdin, read by the command itself; a file that cannot be opened is an ExecError naming it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'caretaker-exec-'));
  try {
    await writeFile(join(dir, 'in'), 'from the file\n');
    const result = await execFile('sh', ['-c', 'cat; ls -l /proc/self/fd/0 >&2'], { inputFile: join(dir, 'in') });
    assert.equal(result.stdout, 'from the file\n');
    assert.match(result.stderr, new RegExp(`-> ${join(dir, 'in')}$`, 'm'), 'stdin is the file, not a pipe');
    await assert.rejects(execFile('cat', [], { inputFile: join(dir, 'missing') }), (err: unknown) => err instanceof ExecError && /^cat: cannot read .*missing: ENOENT/.test(err.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
