import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, startProgress } from '../../../src/agent/kit/cli.js';
import { ProgressLine } from '../../../src/agent/kit/progress.js';

function fakeTerminal(columns?: number) {
  const writes: string[] = [];
  return { writes, stream: { columns, write: (text: string) => writes.push(text) } };
}

describe('ProgressLine', () => {
  it('draws bytes, the rate over the window and, with a total, the share and the time left', () => {
    let now = 0;
    const { writes, stream } = fakeTerminal();
    const line = new ProgressLine(stream, "restore 'files'", formatBytes, () => now);
    line.update(0, 100 * 1024 * 1024, 'tar');
    now = 1000;
    line.update(10 * 1024 * 1024, 100 * 1024 * 1024, 'tar');
    assert.equal(writes.length, 2);
    assert.equal(writes[1], "\rrestore 'files' (tar):  10.0 MiB of 100.0 MiB (10%)  10.0 MiB/s  9 s left\u001b[K");
    line.end();
    assert.equal(writes[2], '\r\u001b[K', 'the line is erased so the final output stands alone');
  });

  it('redraws at most every 200 ms, and the rate forgets samples older than 5 s', () => {
    let now = 0;
    const { writes, stream } = fakeTerminal();
    const line = new ProgressLine(stream, 'backup', formatBytes, () => now);
    for (; now <= 1000; now += 50) line.update(now * 1024);
    assert.equal(writes.length, 6, 'one draw per 200 ms');
    // A stall: nothing more arrives for 10 s, the rate over the window falls to 0.
    now = 11_000;
    line.update(1000 * 1024);
    now = 11_200;
    line.update(1000 * 1024);
    assert.match(writes.at(-1)!, /1000\.0 KiB {2}0 B\/s/);
  });

  it('a new step, or a count that went back, is drawn at once and starts the rate afresh', () => {
    let now = 0;
    const { writes, stream } = fakeTerminal();
    const line = new ProgressLine(stream, 'restore', formatBytes, () => now);
    line.update(0, 1000, 'sha256sum');
    now = 1000;
    line.update(900, 1000, 'sha256sum');
    now = 1050;
    line.update(0, 1000, 'tar');
    assert.equal(writes.at(-1), '\rrestore (tar):  0 B of 1000 B (0%)\u001b[K', 'no rate yet, none carried over from sha256sum');
    now = 1100;
    line.update(100, 1000, 'tar');
    assert.equal(writes.length, 3, 'within 200 ms of a draw');
    now = 2050;
    line.update(500, 1000, 'tar');
    assert.match(writes.at(-1)!, /500 B of 1000 B \(50%\) {2}500 B\/s {2}1 s left/);
    now = 2100;
    line.update(10, 1000, 'tar');
    assert.match(writes.at(-1)!, /\(tar\): {2}10 B of 1000 B \(1%\)\u001b\[K$/, 'a count that went back: the next read from the start');
  });

  it('cuts the line to the terminal width, and end() without a draw writes nothing', () => {
    const { writes, stream } = fakeTerminal(20);
    const line = new ProgressLine(stream, 'a rather long label for a narrow terminal', formatBytes, () => 0);
    line.update(5);
    assert.equal(writes[0], '\ra rather long label\u001b[K');
    const quiet = fakeTerminal();
    new ProgressLine(quiet.stream, 'x', formatBytes).end();
    assert.deepEqual(quiet.writes, []);
  });

  it('startProgress answers nothing with --json or off a terminal (this test runs on a pipe)', async () => {
    assert.equal(await startProgress({ json: true }, 'x'), undefined);
    if (!process.stdout.isTTY || !process.stderr.isTTY) assert.equal(await startProgress({ json: false }, 'x'), undefined);
  });
});
