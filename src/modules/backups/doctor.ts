import { statfs } from 'node:fs/promises';
import type { DoctorContext, DoctorLine } from '../../agent/kit/doctor.js';
import { existingAncestor, writablePathLine } from '../../agent/kit/doctor.js';
import { describeError } from '../../agent/kit/errors.js';
import { execFile } from '../../agent/kit/exec.js';
import { formatBytes } from '../../agent/kit/cli.js';
import { listBackups } from './catalog.js';
import type { BackupsConfig } from './config.js';
import { kindOf } from './kinds/table.js';
import { dumpToolFor } from './postgres/tools.js';

/** The next backup is assumed to grow by this much over the last one before it is written. */
const GROWTH = 1.2;

async function toolLine(job: BackupsConfig['jobs'][number], signal: AbortSignal): Promise<DoctorLine | undefined> {
  if (job.type === 'postgres') {
    try {
      const { place, versions } = await dumpToolFor(job, signal);
      const where = place.exec ? `through ${place.exec.join(' ')}` : (place.dir ?? 'from PATH');
      return { status: 'ok', check: `pg_dump ${job.name}`, detail: `pg_dump ${versions.pg_dump} (${where}) for server ${versions.server}` };
    } catch (err) {
      return { status: 'fail', check: `pg_dump ${job.name}`, detail: describeError(err), fix: 'install the client tools of the server\'s major version (postgresql-client-N), or set binDir' };
    }
  }
  if (job.type === 'redis') {
    const found = await execFile('redis-check-rdb', ['--version'], { signal, timeoutMs: 10_000 }).then(() => true, () => false);
    return found
      ? { status: 'ok', check: `redis-check-rdb ${job.name}`, detail: 'present (verifies each snapshot)' }
      : { status: 'fail', check: `redis-check-rdb ${job.name}`, detail: 'redis-check-rdb is not installed: snapshots cannot be verified', fix: 'apt-get install redis-tools' };
  }
  return undefined;
}

/** Room for the next run of every job: the sum of each job's newest backup, grown a little. */
async function spaceLine(config: BackupsConfig): Promise<DoctorLine> {
  let needed = 0;
  for (const job of config.jobs) {
    const newest = (await listBackups(config.dir, job.name, kindOf(job).extensions).catch(() => [])).at(-1);
    if (newest) needed += newest.sizeBytes * GROWTH;
  }
  needed = Math.max(needed, config.minFreeSpace ?? 0);
  let free: number;
  try {
    // Not made yet (no run so far): it will be made on the file system above it.
    const fs = await statfs(await existingAncestor(config.dir));
    free = fs.bavail * fs.bsize;
  } catch (err) {
    return { status: 'fail', check: 'backup space', detail: `cannot read ${config.dir}: ${describeError(err)}` };
  }
  if (free < needed) {
    return { status: 'fail', check: 'backup space', detail: `${formatBytes(free)} free in ${config.dir}, the next runs need about ${formatBytes(needed)} (the last backups, +20 %)`, fix: 'free space there, lower the retention, or move backups.dir' };
  }
  return { status: 'ok', check: 'backup space', detail: `${formatBytes(free)} free in ${config.dir}${needed > 0 ? `, next runs need about ${formatBytes(needed)}` : ''}` };
}

export async function backupsDoctor(config: BackupsConfig, ctx: DoctorContext): Promise<DoctorLine[]> {
  const lines: DoctorLine[] = [await writablePathLine('backups dir', config.dir, ctx.sandbox)];
  for (const job of config.jobs) {
    const line = await toolLine(job, ctx.signal);
    if (line) lines.push(line);
  }
  lines.push(await spaceLine(config));
  return lines;
}
