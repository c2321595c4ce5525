import { newestFirst, type RotatedFile } from './naming.js';

export interface PruneInput {
  /** Rotated files of one live file (as parsed by naming.ts; nothing else is ever deleted). */
  files: readonly RotatedFile[];
  keep: number;
  maxAgeMs?: number;
  nowMs: number;
  /** Age source when the name carries none (numbered naming): the file's mtime. */
  mtimeMs(file: RotatedFile): number;
}

/** Which rotated files to delete: those beyond the newest `keep`, and those older than `maxAge`. */
export function selectForPruning(input: PruneInput): RotatedFile[] {
  const ordered = [...input.files].sort(newestFirst);
  return ordered.filter((file, rank) => {
    if (rank >= input.keep) return true;
    if (input.maxAgeMs === undefined) return false;
    const bornMs = file.stampMs ?? input.mtimeMs(file);
    return input.nowMs - bornMs > input.maxAgeMs;
  });
}

/**
 * Rotated files still to compress: every uncompressed one, except the newest when compression is
 * delayed (its writer may still hold it), and except one whose compressed twin already exists
 * (a crash between the rename of the .gz and the removal of the original; the caller removes it).
 */
export function selectForCompression(files: readonly RotatedFile[], delayCompress: boolean): RotatedFile[] {
  const ordered = [...files].sort(newestFirst);
  return ordered.filter((file, rank) => !file.compressed && !(delayCompress && rank === 0));
}
