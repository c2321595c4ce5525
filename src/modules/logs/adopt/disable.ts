import { access, readdir, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isTaboo, type ParsedConfig } from './parse.js';

/**
 * An adopted file is moved aside within its directory under a name logrotate's taboo list skips
 * (`.disabled`), so logrotate stops reading it and `--undo` knows exactly what to move back.
 */
export const ADOPTED_SUFFIX = '.caretaker-adopted.disabled';

export class AdoptRefusedError extends Error {
  readonly code = 'ADOPT_REFUSED';
}

export interface Move {
  from: string;
  to: string;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Where each file goes, checked before anything moves: a file that cannot be disabled refuses them all. */
export async function planDisable(files: readonly string[], config: ParsedConfig, mainConf: string): Promise<Move[]> {
  const moves: Move[] = [];
  for (const file of files) {
    const dir = config.includedDirs.find((d) => d.dir === dirname(file));
    if (!dir) {
      throw new AdoptRefusedError(
        file === mainConf
          ? `${file} is logrotate's main file and cannot be moved aside: move its blocks to a file of an included directory (/etc/logrotate.d), then adopt that file`
          : `${file} is included by name, so logrotate would fail without it: move it into an included directory (/etc/logrotate.d), then adopt it`,
      );
    }
    const to = file + ADOPTED_SUFFIX;
    if (!isTaboo(basename(to), dir.taboo)) throw new AdoptRefusedError(`logrotate would still read ${basename(to)} in ${dir.dir}: its tabooext no longer lists .disabled (add 'tabooext + .disabled')`);
    if (await exists(to)) throw new AdoptRefusedError(`${to} already exists (adopted before?): move it away or run --undo first`);
    moves.push({ from: file, to });
  }
  return moves;
}

/** Moves back what `planDisable` moved aside: the given originals, or every adopted file of the included directories. */
export async function planUndo(files: readonly string[], config: ParsedConfig): Promise<Move[]> {
  const candidates: string[] = [];
  if (files.length > 0) candidates.push(...files.map((f) => (f.endsWith(ADOPTED_SUFFIX) ? f : f + ADOPTED_SUFFIX)));
  else for (const { dir } of config.includedDirs) for (const name of (await readdir(dir)).sort()) if (name.endsWith(ADOPTED_SUFFIX)) candidates.push(join(dir, name));
  const moves: Move[] = [];
  for (const from of candidates) {
    const to = from.slice(0, -ADOPTED_SUFFIX.length);
    if (!(await exists(from))) throw new AdoptRefusedError(`${from} does not exist: ${to} was not adopted by caretaker`);
    if (await exists(to)) throw new AdoptRefusedError(`${to} exists again (a package reinstalled it?): remove one of ${to} and ${from} by hand`);
    moves.push({ from, to });
  }
  return moves;
}

/** rename(2) within one directory: each move is atomic; a failure stops with what was already moved said by the caller. */
export async function applyMoves(moves: readonly Move[], done: (move: Move) => void): Promise<void> {
  for (const move of moves) {
    await rename(move.from, move.to);
    done(move);
  }
}
