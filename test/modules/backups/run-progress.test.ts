import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { configSchema } from '../../../src/modules/backups/config.js';
import { RunProgress, runBackup } from '../../../src/modules/backups/run-backup.js';
import { FileSink } from '../../../src/modules/backups/sink.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';

describe('the bytes a run in progress reports', () => {
  let dir: TempDir;
  before(async () => {
    dir = await makeTempDir('run-progress');
  });
  after(async () => {
    await dir?.cleanup();
  });

  it('a sink a child writes to itself (pg_dump to its descriptor) counts what is in the file so far', async () => {
    const sink = await FileSink.create(join(dir.path, 'dump.partial'));
    const progress = new RunProgress();
    progress.writing(sink);
    const fd = sink.takeFd();
    const child = spawn('sh', ['-c', 'head -c 1048576 /dev/zero; read line'], { stdio: ['pipe', fd, 'inherit'] });
    try {
      for (let waited = 0; progress.bytes() !== 1048576 && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      assert.equal(progress.bytes(), 1048576, 'the child is still running, its bytes are counted');
      assert.equal(sink.bytes, 0, 'the final count is taken at finish');
    } finally {
      child.stdin!.end('\n');
      await once(child, 'close');
      await sink.abandon();
    }
  });

  it('a streamed run: bytes as written, final from the verify step on', async () => {
    const { jobs } = configSchema.parse({
      dir: dir.path,
      jobs: [{ name: 'etc', type: 'files', paths: ['/etc/hostname'], schedule: '0 3 * * *', timezone: 'UTC' }],
    });
    const progress = new RunProgress();
    assert.deepEqual([progress.step, progress.bytes()], ['dump', 0]);
    const outcome = await runBackup(jobs[0]!, { dir: dir.path, signal: new AbortController().signal, log: pino({ level: 'silent' }), now: () => new Date(), progress });
    assert.equal(outcome.result, 'success', outcome.message);
    assert.deepEqual([progress.step, progress.bytes()], ['verify', outcome.sizeBytes]);
  });
});
