import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface LineAudit {
  files: number;
  lines: number;
  lost: number;
  duplicated: number;
  /** Lines that do not start with a number (a torn or garbled line). */
  garbled: number;
}

/** Every file in `dir` whose name starts with `base` (live + rotated), gunzipped when compressed. */
export async function readAllLogs(dir: string, base: string): Promise<Buffer[]> {
  const names = (await readdir(dir)).filter((n) => n.startsWith(base) && !n.startsWith('.'));
  return Promise.all(
    names.map(async (name) => {
      const data = await readFile(join(dir, name));
      return name.endsWith('.gz') ? gunzipSync(data) : data;
    }),
  );
}

/** Counts each numbered line `1..expected` across all buffers: 0 lost and 0 duplicated is the bar for reopen. */
export function auditNumberedLines(buffers: Buffer[], expected: number): LineAudit {
  const seen = new Uint8Array(expected + 1);
  const audit: LineAudit = { files: buffers.length, lines: 0, lost: 0, duplicated: 0, garbled: 0 };
  for (const buffer of buffers) {
    let i = 0;
    while (i < buffer.length) {
      let value = 0;
      let digits = 0;
      while (i < buffer.length && buffer[i]! >= 48 && buffer[i]! <= 57) {
        value = value * 10 + buffer[i]! - 48;
        digits++;
        i++;
      }
      const end = buffer.indexOf(10, i);
      i = end === -1 ? buffer.length : end + 1;
      if (digits === 0 || value > expected || end === -1) {
        audit.garbled++;
        continue;
      }
      audit.lines++;
      if (seen[value]! > 0) audit.duplicated++;
      seen[value] = Math.min(255, seen[value]! + 1);
    }
  }
  for (let n = 1; n <= expected; n++) if (seen[n] === 0) audit.lost++;
  return audit;
}
