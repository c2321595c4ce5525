import { z } from 'zod';
import { duration, itemName, namedList, size } from '../../agent/kit/schema.js';
import { shellCommand } from '../../agent/kit/unit-control.js';
import { timeZone } from '../../agent/kit/zoned-time.js';

/** Signals a writer may ask for on reopen; a fixed list so a typo is caught at load, not at 3 a.m. */
const REOPEN_SIGNALS = ['HUP', 'USR1', 'USR2', 'INT', 'TERM', 'QUIT', 'WINCH'] as const;

const absolutePath = z.string().refine((p) => p.startsWith('/'), { error: 'must be an absolute path' });

const rotateSchema = z
  .strictObject({
    every: z.enum(['hourly', 'daily', 'weekly', 'monthly']).optional().meta({ description: 'calendar trigger: rotate once the calendar enters a new hour, day, week (ISO, Monday) or month in timezone' }),
    maxSize: size().optional().meta({ description: 'size trigger: rotate as soon as a file reaches this size (checked every minute), whatever the calendar says' }),
    minSize: size().optional().meta({ description: 'with every: a calendar rotation waits until the file holds at least this much' }),
    timezone: timeZone('zone the calendar periods of `every` are read in (a daily rotation happens at local midnight)'),
  })
  .superRefine((rotate, ctx) => {
    if (rotate.every === undefined && rotate.maxSize === undefined) {
      ctx.addIssue({ code: 'custom', path: ['every'], message: 'give `every`, `maxSize` or both: nothing would ever rotate' });
    }
    if (rotate.minSize !== undefined && rotate.every === undefined) {
      ctx.addIssue({ code: 'custom', path: ['minSize'], message: '`minSize` only applies to calendar rotation (`every`)' });
    }
  });

const reopenSchema = z
  .strictObject({
    signal: z.enum(REOPEN_SIGNALS).optional().meta({ description: 'signal sent to the pid read from pidFile (nginx: USR1)' }),
    pidFile: absolutePath.optional().meta({ description: 'file holding the pid of the writer to signal' }),
    command: shellCommand().optional().meta({ description: 'run through /bin/sh once per set after every file of the set was renamed (e.g. `nginx -s reopen`)' }),
    timeout: duration({ min: '100ms', max: '10m' }).default(30_000).meta({ description: 'how long the signal or command, and the writer letting go of the old file, may take (default 30s)' }),
  })
  .superRefine((reopen, ctx) => {
    const bySignal = reopen.signal !== undefined || reopen.pidFile !== undefined;
    if (bySignal && reopen.command !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'use either `signal` + `pidFile` or `command`, not both' });
    } else if (!bySignal && reopen.command === undefined) {
      ctx.addIssue({ code: 'custom', path: ['signal'], message: 'give `signal` + `pidFile` or `command`' });
    } else if (bySignal && reopen.signal === undefined) {
      ctx.addIssue({ code: 'custom', path: ['signal'], message: '`pidFile` needs a `signal` to send' });
    } else if (bySignal && reopen.pidFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['pidFile'], message: '`signal` needs the `pidFile` of the writer' });
    }
  });

const ownerSchema = z.union([z.string().regex(/^[a-z_][a-z0-9_-]*\$?$/i, { error: 'expected a user/group name or a numeric id' }), z.number().int().min(0)]);

const createSchema = z.strictObject({
  owner: ownerSchema.optional().meta({ description: "owner of the new live file, a user name or id (default: the rotated file's)" }),
  group: ownerSchema.optional().meta({ description: "group of the new live file, a name or id (default: the rotated file's)" }),
  mode: z
    .string()
    .regex(/^0?[0-7]{3}$/, { error: "expected an octal mode such as '0640'" })
    .transform((text) => parseInt(text, 8))
    .optional()
    .meta({ description: "octal mode of the new live file, e.g. '0640' (default: the rotated file's)" }),
});

export const logSetSchema = z
  .strictObject({
    name: itemName().meta({ description: 'names the log set in routes and in the set label of its metrics' }),
    paths: z.array(absolutePath).min(1).meta({ description: 'absolute paths; *, ? and [...] may appear in any segment; rotated files are never matched' }),
    rotate: rotateSchema.meta({ description: 'when to rotate: every (calendar), maxSize, or both' }),
    keep: z.number().int().min(0).max(10_000).default(7).meta({ description: 'rotated files kept per live file (older ones are deleted)' }),
    maxAge: duration({ min: '1m', timer: false }).optional().meta({ description: 'rotated files older than this are deleted, checked every minute (not only at rotation)' }),
    compress: z
      .union([z.boolean(), z.strictObject({ level: z.number().int().min(1).max(9).default(6).meta({ description: 'gzip level, 1 (fastest) to 9 (smallest)' }) })])
      .default(false)
      .transform((value) => (value === false ? undefined : { level: value === true ? 6 : value.level }))
      .meta({ description: 'gzip rotated files: true (level 6) or { level: 1-9 }' }),
    delayCompress: z.boolean().default(false).meta({ description: 'leave the newest rotated file uncompressed until the next rotation (for writers that keep writing to it a while)' }),
    naming: z.enum(['dateext', 'numbered']).default('dateext').meta({ description: 'dateext: access.log-20261123T150405Z (UTC); numbered: access.log.1, .2, …' }),
    olddir: z.string().min(1).optional().meta({ description: "where rotated files go: absolute, or relative to each log's directory; same filesystem (created 0750 if missing)" }),
    notIfEmpty: z.boolean().default(false).meta({ description: 'skip rotating empty files' }),
    missingOk: z.boolean().default(false).meta({ description: 'do not report a pattern that matches no file' }),
    create: createSchema.optional().meta({ description: 'owner, group and mode of the new live file (default: those of the rotated file)' }),
    reopen: reopenSchema.optional().meta({ description: 'how the writer lets go of the renamed file: signal + pidFile, or command' }),
    copyTruncate: z.boolean().default(false).meta({ description: 'copy then truncate in place, for writers that cannot reopen; lines written meanwhile are lost' }),
  })
  .superRefine((set, ctx) => {
    if (set.copyTruncate && set.reopen !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['copyTruncate'], message: 'use either `reopen` or `copyTruncate`, not both' });
    }
    if (set.copyTruncate && set.create !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['create'], message: '`create` does not apply with `copyTruncate` (the file is kept)' });
    }
    if (set.delayCompress && set.compress === undefined) {
      ctx.addIssue({ code: 'custom', path: ['delayCompress'], message: '`delayCompress` needs `compress`' });
    }
  });

export const configSchema = namedList(logSetSchema).meta({ description: 'Log rotation in place of logrotate: sets of files rotated by calendar or size, compressed, pruned.' });

export type LogsConfig = z.output<typeof configSchema>;
export type LogSetConfig = z.output<typeof logSetSchema>;
export type RotateEvery = NonNullable<LogSetConfig['rotate']['every']>;
export type Naming = LogSetConfig['naming'];
