import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { DoctorContext, DoctorLine } from '../../agent/kit/doctor.js';
import { writablePathLine } from '../../agent/kit/doctor.js';
import { describeError } from '../../agent/kit/errors.js';
import { findLogrotateConflicts } from './adopt/conflicts.js';
import type { LogsConfig } from './config.js';
import { hasMagic } from './glob.js';

const LOGROTATE_CONF = '/etc/logrotate.conf';

/** The literal directory a log path lives in (up to its first wildcard). */
function literalDir(path: string): string {
  let dir = dirname(path);
  while (hasMagic(dir)) dir = dirname(dir);
  return dir;
}

/** Rotation renames inside each log's directory (and writes olddir): those must be writable in the sandbox. */
export async function logsDoctor(config: LogsConfig, ctx: DoctorContext): Promise<DoctorLine[]> {
  const lines: DoctorLine[] = [];
  for (const set of config) {
    const dirs = new Set(set.paths.map(literalDir));
    if (set.olddir && isAbsolute(set.olddir)) dirs.add(set.olddir);
    else if (set.olddir) for (const dir of [...dirs]) dirs.add(join(dir, set.olddir));
    for (const dir of dirs) lines.push(await writablePathLine(`logs ${set.name}`, dir, ctx.sandbox));
  }
  // No logrotate installed: nothing to conflict with.
  if (!existsSync(LOGROTATE_CONF)) return lines;
  try {
    for (const conflict of await findLogrotateConflicts(config, LOGROTATE_CONF)) {
      lines.push({ status: 'warn', check: `logrotate ${conflict.log}`, detail: `${conflict.path} is rotated by logrotate too (${conflict.logrotate}: ${conflict.pattern})`, fix: conflict.resolve });
    }
  } catch (err) {
    lines.push({ status: 'warn', check: 'logrotate', detail: `${LOGROTATE_CONF} could not be read for conflicts: ${describeError(err)}` });
  }
  return lines;
}
