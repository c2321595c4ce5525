import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Document, isSeq } from 'yaml';
import { EXIT, type CliCommand, type CommandContext } from '../../../agent/kit/cli.js';
import { AdoptRefusedError, applyMoves, planDisable, planUndo, type Move } from './disable.js';
import { mapBlock, type MappedBlock } from './map.js';
import { DEFAULT_LOGROTATE_CONF, LogrotateSyntaxError, parseLogrotate, type ParsedConfig } from './parse.js';

const USAGE = 'caretaker adopt logrotate [FILE...] [--dry-run] [--allow-partial] [--undo] [--logrotate-conf PATH]';

/** The `logs:` section for the adopted blocks, each under a comment naming where it came from. */
export function logsSection(mapped: readonly MappedBlock[]): string {
  const doc = new Document({ logs: mapped.map((m) => m.entry) });
  const seq = doc.get('logs');
  if (isSeq(seq)) {
    mapped.forEach((m, i) => {
      const dropped = m.unsupported.map((u) => `not adopted: ${u.directive} (${u.file}:${u.line}): ${u.reason}`);
      (seq.items[i] as { commentBefore?: string }).commentBefore = [`from ${m.block.file}:${m.block.line}`, ...m.notes, ...dropped].map((c) => ` ${c}`).join('\n');
    });
  }
  return doc.toString({ lineWidth: 0 });
}

function emptyDir(path: string): boolean {
  try {
    return readdirSync(path).length === 0;
  } catch {
    return true;
  }
}

function describe(move: Move): string {
  return `${move.from} -> ${move.to}`;
}

async function undo(ctx: CommandContext, files: string[], config: ParsedConfig, dryRun: boolean): Promise<number> {
  const moves = await planUndo(files, config);
  if (moves.length === 0) ctx.err('nothing to restore: no file adopted by caretaker in the included directories');
  if (dryRun) for (const move of moves) ctx.out(`would restore ${describe(move)}`);
  else await applyMoves(moves, (move) => ctx.out(`restored ${describe(move)}`));
  return EXIT.ok;
}

async function adopt(ctx: CommandContext, files: string[], config: ParsedConfig, mainConf: string): Promise<number> {
  const dryRun = ctx.flags['dry-run'] === true;
  const allowPartial = ctx.flags['allow-partial'] === true;
  const unknown = files.filter((f) => !config.files.includes(f));
  if (unknown.length > 0) {
    ctx.err(`not read by logrotate from ${mainConf}: ${unknown.join(', ')} (see logrotate -d ${mainConf})`);
    return EXIT.usage;
  }
  const included = new Set(config.includedDirs.map((d) => d.dir));
  // Without FILE: the files of the included directories, which can be moved aside as a whole.
  const chosen = files.length > 0 ? files : config.files.filter((f) => included.has(resolve(f, '..')));
  const adopted: MappedBlock[] = [];
  const adoptedFiles: string[] = [];
  let skipped = 0;
  for (const file of chosen) {
    const mapped = config.blocks.filter((b) => b.file === file).map((b) => mapBlock(b, config.blocks, { emptyDir }));
    const unsupported = mapped.flatMap((m) => m.unsupported);
    const invalid = mapped.flatMap((m) => m.invalid);
    // A file is moved aside whole, so one block it cannot adopt keeps the whole file with logrotate.
    if (invalid.length > 0 || (unsupported.length > 0 && !allowPartial)) {
      skipped++;
      for (const u of [...unsupported, ...invalid]) ctx.err(`${u.file}:${u.line}: ${u.directive} (block ${u.block}): ${u.reason}`);
      ctx.err(`${file}: skipped, left to logrotate${invalid.length > 0 || allowPartial ? '' : ' (--allow-partial adopts it without the directives above)'}`);
      continue;
    }
    adopted.push(...mapped);
    if (mapped.length > 0) adoptedFiles.push(file);
  }
  // Planned in a dry run too, so it says what a real run would refuse.
  const moves = await planDisable(adoptedFiles, config, mainConf);
  ctx.out(adopted.length > 0 ? logsSection(adopted).trimEnd() : '# nothing to adopt');
  if (dryRun) for (const file of adoptedFiles) ctx.err(`would disable ${file} for logrotate (--dry-run: nothing changed)`);
  else await applyMoves(moves, (move) => ctx.err(`disabled for logrotate: ${describe(move)} (caretaker adopt logrotate --undo restores it)`));
  return skipped > 0 ? EXIT.failure : EXIT.ok;
}

/** `caretaker adopt logrotate`: logrotate's blocks as a `logs` section, the adopted files moved aside for logrotate. */
export const adoptLogrotateCommand: CliCommand = {
  name: 'adopt logrotate',
  summary: 'print logrotate files as a logs section and hand them over (--undo gives them back)',
  usage: USAGE,
  async run(ctx) {
    const conf = ctx.flags['logrotate-conf'];
    const known = new Set(['dry-run', 'allow-partial', 'undo', 'logrotate-conf']);
    const stray = Object.keys(ctx.flags).filter((f) => !known.has(f));
    if (stray.length > 0 || conf === true) {
      ctx.err(`usage: ${USAGE}${stray.length > 0 ? ` (unknown option --${stray[0]})` : ''}`);
      return EXIT.usage;
    }
    const mainConf = resolve(conf ?? DEFAULT_LOGROTATE_CONF);
    const files = ctx.args.map((f) => resolve(f));
    try {
      const config = await parseLogrotate(mainConf);
      return ctx.flags.undo === true ? await undo(ctx, files, config, ctx.flags['dry-run'] === true) : await adopt(ctx, files, config, mainConf);
    } catch (err) {
      if (err instanceof LogrotateSyntaxError) {
        ctx.err(`invalid logrotate config: ${err.message} (nothing was changed)`);
        return EXIT.config;
      }
      if (err instanceof AdoptRefusedError) {
        ctx.err(`${err.message} (nothing was changed)`);
        return EXIT.failure;
      }
      throw err;
    }
  },
};
