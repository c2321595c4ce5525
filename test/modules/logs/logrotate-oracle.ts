import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What Debian's `logrotate -d -v` says of one block. */
export interface OracleBlock {
  paths: string[];
  /** hourly, daily, weekly, monthly, yearly, or `size N` for a size-only block. */
  frequency: string;
  count: number;
  compress: boolean;
  /** The scripts it runs on a forced rotation, with their text when it prints one. */
  scripts: Record<string, string>;
}

/** Copies a fixture tree into `root`, with @ROOT@ and /var/log re-rooted there so a forced debug run sees its own files. */
export async function stage(fixture: string, root: string): Promise<void> {
  await cp(fixture, join(root, 'etc'), { recursive: true });
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else await writeFile(path, (await readFile(path, 'utf8')).replaceAll('@ROOT@', root).replaceAll(' /var/log/', ` ${root}/var/log/`).replace(/^\/var\/log\//gm, `${root}/var/log/`));
    }
  };
  await walk(join(root, 'etc'));
}

function splitWords(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

const FREQUENCY: Record<string, string> = { hourly: 'hourly', 'after 1 days': 'daily', weekly: 'weekly', monthly: 'monthly', yearly: 'yearly' };

async function debugRun(conf: string, state: string, force: boolean): Promise<string> {
  const args = ['-d', '-v', ...(force ? ['-f'] : []), '-s', state, conf];
  const { stdout, stderr } = await run('logrotate', args).catch((err: { stdout: string; stderr: string }) => err);
  return stdout + stderr;
}

/**
 * Runs logrotate twice in debug mode (it changes nothing): once for the paths, frequency and count of
 * each block, once forced, after making each path's file and a `.1` beside it, for what it would
 * compress and which scripts it would run.
 */
export async function logrotateSays(conf: string, root: string): Promise<OracleBlock[]> {
  const state = join(root, 'logrotate.status');
  const plain = await debugRun(conf, state, false);
  const header = /^rotating pattern: ([\s\S]*?)\s+(hourly|after 1 days|weekly|monthly|yearly|\d+ bytes|forced from command line) \((?:(\d+) rotations|no old logs will be kept)\)$/gm;
  const blocks: OracleBlock[] = [...plain.matchAll(header)].map((m) => ({
    paths: splitWords(m[1]!),
    frequency: FREQUENCY[m[2]!] ?? `size ${m[2]!.replace(' bytes', '')}`,
    count: m[3] === undefined ? 0 : Number(m[3]),
    compress: false,
    scripts: {},
  }));
  for (const block of blocks) {
    for (const path of block.paths) {
      const file = path.replace(/\*/g, 'x').replace(/\?/g, 'y');
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, 'a line\n'.repeat(2000));
      await writeFile(`${file}.1`, 'an older line\n');
    }
  }
  const forced = await debugRun(conf, state, true);
  const sections = forced.split(/^rotating pattern: /m).slice(1);
  sections.forEach((section, i) => {
    const block = blocks[i];
    if (!block) return;
    block.compress = section.includes('compressing log with');
    for (const m of section.matchAll(/^running (prerotate|postrotate|first action|last action) script\nrunning script with args [\s\S]*?: "\n([\s\S]*?)\n?"$/gm)) {
      block.scripts[m[1]!.replace(' ', '')] = m[2]!.trim();
    }
  });
  return blocks;
}
