import { z } from 'zod';
import { findsCommand } from './exec.js';

/**
 * `exec:` of a job or probe: the argv a tool is run through (`[docker, exec, -i, pg]`,
 * `[runuser, -u, postgres, --]`), so it runs next to a database with no published port. No shell: each
 * element is one argument, and the tool's stdin, stdout and exit status are the prefix's.
 */
export function execPrefix(what: string) {
  return z
    .array(z.string({ error: 'each element is one argument, a string' }).min(1, { error: 'an empty argument' }), {
      error: 'expected a list of arguments such as [docker, exec, -i, pg]',
    })
    .min(1, { error: 'names no program: give e.g. [docker, exec, -i, pg], or leave exec out' })
    .superRefine((argv, ctx) => {
      const program = argv[0];
      // An empty list has its own message above.
      if (!program) return;
      if (program.includes('/') && !program.startsWith('/')) {
        ctx.addIssue({ code: 'custom', path: [0], message: `${program}: give a program name found on PATH or an absolute path` });
      } else if (!findsCommand(program)) {
        ctx.addIssue({ code: 'custom', path: [0], message: `${program}: ${program.startsWith('/') ? 'not an executable file' : 'not found on PATH'}` });
      }
    })
    .meta({ description: `command prefix (argv list, no shell) ${what} run through, e.g. [docker, exec, -i, pg] or [docker, compose, -f, /srv/app/compose.yml, exec, -T, db]` });
}

/** The command and arguments that run `command args` through `prefix` (or directly without one). */
export function throughPrefix(prefix: readonly string[] | undefined, command: string, args: readonly string[]): [string, string[]] {
  if (!prefix || prefix.length === 0) return [command, [...args]];
  const [program, ...rest] = prefix;
  return [program!, [...rest, command, ...args]];
}
