import { isAbsolute, relative } from 'node:path';
import { z } from 'zod';
import { execFile } from '../../../agent/kit/exec.js';
import { jobCommon } from '../job-common.js';
import { spawnStreaming, streamToolInto } from '../spawn-stream.js';
import type { BackupKind } from './kind.js';

export const filesJobSchema = z.strictObject({
  ...jobCommon,
  type: z.literal('files').meta({ description: 'files: a tar.gz of paths' }),
  paths: z
    .array(z.string().refine(isAbsolute, { error: 'must be an absolute path' }))
    .min(1)
    .meta({ description: 'files and directories to archive (tar.gz), e.g. /etc/nginx' }),
  exclude: z.array(z.string()).default([]).meta({ description: 'tar --exclude patterns' }),
});

export type FilesJob = z.output<typeof filesJobSchema>;

async function tarVersion(signal: AbortSignal): Promise<string> {
  const { stdout } = await execFile('tar', ['--version'], { signal, timeoutMs: 10_000 });
  return stdout.split('\n')[0]?.trim() ?? 'unknown';
}

export const filesKind: BackupKind<FilesJob> = {
  extensions: ['tar.gz'],
  formatFor: () => ({ extension: 'tar.gz', layout: 'file' }),

  async dump(job, { sink, signal }) {
    // Members are stored relative to / so a restore can land anywhere with --to.
    const members = job.paths.map((p) => relative('/', p) || '.');
    const args = ['--create', '--gzip', '--file=-', '--directory=/', ...job.exclude.map((e) => `--exclude=${e}`), '--', ...members];
    const child = spawnStreaming('tar', args, { signal });
    await streamToolInto(child, sink, signal);
    await child.exited;
    return { tar: await tarVersion(signal) };
  },

  async check(_job, file, signal) {
    await execFile('tar', ['--list', '--gzip', `--file=${file}`], { signal, timeoutMs: 10 * 60_000, maxOutputBytes: 4096 });
    return 'tar --list';
  },

  async restore(_job, file, { to, signal }) {
    await execFile('tar', ['--extract', '--gzip', `--file=${file}`, `--directory=${to ?? '/'}`], { signal, maxOutputBytes: 16 * 1024 });
  },

  describeTarget(_job, to) {
    return `the files under ${to ?? '/'}`;
  },
};
