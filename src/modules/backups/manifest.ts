import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from '../../agent/kit/atomic-file.js';
import { MANIFEST_SUFFIX } from './backup-files.js';
import { contentsSchema } from './drill/contents.js';

const manifestSchema = z.object({
  version: z.literal(1),
  job: z.string(),
  type: z.string(),
  file: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number(),
  sizeBytes: z.number(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  tools: z.record(z.string(), z.string()),
  verify: z.object({
    ok: z.boolean(),
    checkedAt: z.string(),
    method: z.string(),
    message: z.string().optional(),
  }),
  /** `directory` when the backup is a directory (pg_dump -Fd); its sha256 is then over the sorted `sha256  name` lines of its files. */
  layout: z.enum(['file', 'directory']).default('file'),
  /** Files made beside the backup in the same run (pg_dumpall --globals-only), each checked like the backup. */
  companions: z
    .array(
      z.object({
        suffix: z.string(),
        file: z.string(),
        sizeBytes: z.number(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        method: z.string(),
        /** What the companion's dump noted (globals: `rolePasswords: false` when pg_authid was not readable). */
        details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
      }),
    )
    .default([]),
  /** How the dump was made where a kind has several ways (Redis: `replication`, `file` or `logical`). */
  mode: z.string().optional(),
  /** Keys in the backup, where the kind counts them as it writes (a logical Redis backup). */
  keys: z.number().optional(),
  /** What the backup holds (row counts, a key sample), recorded for jobs with a restore drill. */
  contents: contentsSchema.optional(),
  /** The restic snapshot this backup was sent off-site as (remote/offsite.ts); absent until it was. */
  remote: z
    .object({
      repository: z.string(),
      snapshot: z.string(),
      addedBytes: z.number(),
      durationMs: z.number(),
      at: z.string(),
    })
    .optional(),
});

/** What is known about one backup file, kept beside it as `<file>.json`. */
export type Manifest = z.output<typeof manifestSchema>;
export type CompanionRecord = Manifest['companions'][number];

export function manifestPathFor(backupPath: string): string {
  return backupPath + MANIFEST_SUFFIX;
}

/** Written before the backup gets its final name, so a file with a final name always has one. */
export async function writeManifest(backupPath: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(manifestPathFor(backupPath), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
}

/** The manifest of a backup, or undefined when it is missing or unreadable (the file then counts as unverified). */
export async function readManifest(backupPath: string): Promise<Manifest | undefined> {
  try {
    const parsed = manifestSchema.safeParse(JSON.parse(await readFile(manifestPathFor(backupPath), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
