import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRcloneRestic, type RcloneRestServer } from '../../harness/rclone.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { applyRetention } from '../../../src/modules/backups/retention.js';
import { restic } from './remote-support.js';
import { startBackups } from './support.js';

const DAILY = '0 3 * * *';
const PASSWORD = 'retention password 3b9e';

// Its own file (35 restic runs): with the kill trials in one file it outgrew the suite's 180 s a file under load.
describe('off-site retention', () => {
  let rest: RcloneRestServer;
  let tmp: TempDir;

  before(async () => {
    [rest, tmp] = await Promise.all([startRcloneRestic(), makeTempDir('remote-retention')]);
  });

  after(async () => {
    await rest?.stop();
    await tmp?.cleanup();
  });

  it('remote retention across a simulated month (injected clock, 35 daily runs) keeps exactly what the rules say', async () => {
    let clock = new Date('2026-01-01T03:00:00Z');
    const policy = { keepDaily: 7, keepWeekly: 4, keepMonthly: 2 };
    const remote = { repository: rest.repository('month'), password: PASSWORD, init: true, retention: policy };
    const source = join(tmp.path, 'month-data.txt');
    const backups = await startBackups({ dir: join(tmp.path, 'month'), remote, jobs: [{ name: 'month', type: 'files', paths: [source], schedule: DAILY, timezone: 'UTC' }] }, () => clock);
    const times: Date[] = [];
    try {
      for (let day = 0; day < 35; day++) {
        clock = new Date(Date.UTC(2026, 0, 1 + day, 3));
        await writeFile(source, `day ${day}\n`);
        times.push(clock);
        backups.runner.runNow('month');
        await backups.settled();
        assert.equal(backups.runner.job('month').lastRun?.remote?.result, 'success', JSON.stringify(backups.runner.job('month').lastRun));
      }
    } finally {
      await backups.dispose();
    }
    const kept = (JSON.parse(await restic(remote, ['snapshots', '--json'])) as Array<{ time: string }>).map((s) => new Date(s.time).toISOString().slice(0, 10)).sort();
    // Dailies Jan 29 – Feb 4; weeklies (ISO weeks) Feb 4, Feb 1, Jan 25, Jan 18; monthlies Feb 4, Jan 31.
    assert.deepEqual(kept, ['2026-01-18', '2026-01-25', '2026-01-29', '2026-01-30', '2026-01-31', '2026-02-01', '2026-02-02', '2026-02-03', '2026-02-04']);
    const expected = applyRetention(times.map((time) => ({ id: time.toISOString(), time, verified: true })), policy, 'UTC').keep.map((k) => k.id.slice(0, 10)).sort();
    assert.deepEqual(kept, expected, 'restic forget and the local retention agree');
  });
});
