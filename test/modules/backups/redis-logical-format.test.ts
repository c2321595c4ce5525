import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LogicalFormatError, LogicalWriter, readLogicalFile, type LogicalRecord } from '../../../src/modules/backups/redis/logical/format.js';
import { FileSink } from '../../../src/modules/backups/sink.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';

const MiB = 1024 * 1024;

/** Sizes around the writer's 1 MiB buffer and the reader's 1 MiB reads: records that fill it exactly, cross it, or exceed it. */
function records(): LogicalRecord[] {
  const out: LogicalRecord[] = [];
  const sizes = [0, 1, 100, 5000, MiB - 19 - 3, MiB, 3 * MiB + 7, 64 * 1024];
  for (let i = 0; i < 4000; i++) {
    const size = i % 500 === 0 ? sizes[(i / 500) % sizes.length]! : (i * 37) % 700;
    out.push({ db: i % 3, key: Buffer.from(`key:${i}`), expireAt: i % 4 === 0 ? 1_900_000_000_000 + i : undefined, payload: randomBytes(size) });
  }
  return out;
}

/** Writes the records through a FileSink, reusing each record's payload buffer right after (the sink copies what it takes). */
async function writeFileOf(path: string, all: LogicalRecord[]): Promise<string> {
  const sink = await FileSink.create(path);
  const writer = new LogicalWriter(sink);
  await writer.start();
  for (const record of all) {
    const copy = { ...record, payload: Buffer.from(record.payload) };
    const wait = writer.record(copy);
    copy.payload.fill(0xee);
    if (wait) await wait;
  }
  await writer.finish();
  return sink.finish(async () => '');
}

describe('the logical file format (.rlog)', () => {
  let dir: TempDir;
  let path: string;
  const all = records();
  before(async () => {
    dir = await makeTempDir('rlog-format');
    path = join(dir.path, 'all.rlog');
  });
  after(() => dir.cleanup());

  it('reads back every record as written, across buffer and block boundaries; the sink digest is the file digest', async () => {
    const digest = await writeFileOf(path, all);
    assert.equal(digest, createHash('sha256').update(await readFile(path)).digest('hex'));
    let n = 0;
    const summary = await readLogicalFile(path, (record, index) => {
      const expected = all[n++]!;
      assert.equal(index, n);
      assert.equal(record.db, expected.db);
      assert.ok(record.key.equals(expected.key), `key of record ${n}`);
      assert.equal(record.expireAt, expected.expireAt);
      assert.ok(record.payload.equals(expected.payload), `payload of record ${n}`);
      // Asynchronous consumers are waited for.
      if (n % 1000 === 0) return new Promise((resolve) => setImmediate(resolve));
    });
    assert.equal(n, all.length);
    assert.equal(summary.keys, all.length);
    assert.ok(summary.blocks >= 4, `${summary.blocks} blocks`);
  });

  it('a changed byte names its block; a file cut anywhere says it was cut short; bytes after the trailer are refused', async () => {
    const whole = await readFile(path);
    const changed = Buffer.from(whole);
    changed[Math.floor(whole.length / 2)]! ^= 0x01;
    const changedPath = join(dir.path, 'changed.rlog');
    await writeFile(changedPath, changed);
    await assert.rejects(readLogicalFile(changedPath, () => undefined), (err: Error) => err instanceof LogicalFormatError && /^block \d+ \(records \d+-\d+, from key "key:\d+" at byte \d+\): (sha256 mismatch|says)|impossible lengths|unknown frame/.test(err.message));

    for (const at of [0, 10, 16, 17, 40, MiB, whole.length - 30, whole.length - 1]) {
      const cutPath = join(dir.path, `cut-${at}.rlog`);
      await writeFile(cutPath, whole);
      await truncate(cutPath, at);
      await assert.rejects(readLogicalFile(cutPath, () => undefined), (err: Error) => err instanceof LogicalFormatError && /cut short|shorter than its header/.test(err.message), `cut at ${at}`);
    }

    const longerPath = join(dir.path, 'longer.rlog');
    await writeFile(longerPath, Buffer.concat([whole, Buffer.from('x')]));
    await assert.rejects(readLogicalFile(longerPath, () => undefined), /bytes after the trailer/);
  });
});
