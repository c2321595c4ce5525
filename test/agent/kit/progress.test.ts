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
    line.update(0, 100 * 1024 * 1024);
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
