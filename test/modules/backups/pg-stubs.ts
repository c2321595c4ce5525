import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEBIAN_PG_LIB, installedMajors } from '../../../src/modules/backups/postgres/tools.js';

const TOOLS = ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql'] as const;
/** The one PostgreSQL major Debian bookworm packages; the others here are stubs that report another version. */
const REAL = installedMajors(DEBIAN_PG_LIB, 'pg_dump').at(-1)!;

/**
 * `<root>/<major>/bin` with the four tools: each answers --version as `<version>` and otherwise logs its
 * arguments to `<root>/<major>/calls` and runs the real tool, so a test sees which major a run used and
 * whether a tool was started at all.
 */
export async function stubMajor(root: string, version: string): Promise<void> {
  const major = version.split('.')[0]!;
  const bin = join(root, major, 'bin');
  await mkdir(bin, { recursive: true });
  for (const tool of TOOLS) {
    const script = [
      '#!/bin/sh',
      `if [ "$1" = "--version" ]; then echo "${tool} (PostgreSQL) ${version}"; exit 0; fi`,
      `echo "${tool} $*" >> ${join(root, major, 'calls')}`,
      `exec ${join(REAL.dir, tool)} "$@"`,
    ].join('\n');
    await writeFile(join(bin, tool), script + '\n');
    await chmod(join(bin, tool), 0o755);
  }
}

/** What the stub tools of one major were run with, one `tool args` line each. */
export async function callsOf(root: string, major: string): Promise<string[]> {
  const text = await readFile(join(root, major, 'calls'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

/** The major of the real tools, for a stub that stands for them (and the harness server, of the same packages). */
export const REAL_MAJOR = String(REAL.major);
