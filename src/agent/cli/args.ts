/** Options that never take a value, so `--yes FILE` keeps FILE as an argument. */
const BOOLEAN_FLAGS = new Set(['json', 'yes', 'dry-run', 'help', 'force', 'all', 'version', 'now', 'allow-partial', 'undo', 'write', 'replace-account']);

export interface ParsedArgs {
  command: string | undefined;
  args: string[];
  flags: Record<string, string | true>;
}

export class UsageError extends Error {}

/** `caretaker [options] <command> [args] [options]`: options may stand anywhere; `--name=value` or `--name value`. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (token === '-c') {
      const value = argv[++i];
      if (value === undefined) throw new UsageError('-c needs a path');
      flags.config = value;
    } else if (token === '-h') {
      flags.help = true;
    } else if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
      if (eq !== -1) flags[name] = token.slice(eq + 1);
      else if (BOOLEAN_FLAGS.has(name)) flags[name] = true;
      else {
        const value = argv[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
        flags[name] = value;
      }
    } else {
      positionals.push(token);
    }
  }
  return { command: positionals[0], args: positionals.slice(1), flags };
}
