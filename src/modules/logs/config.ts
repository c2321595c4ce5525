import { z } from 'zod';
import { duration, itemName, namedList, size } from '../../agent/kit/schema.js';
import { shellCommand } from '../../agent/kit/unit-control.js';
import { isValidTimeZone } from '../../agent/kit/zoned-time.js';

/** Signals a writer may ask for on reopen; a fixed list so a typo is caught at load, not at 3 a.m. */
const REOPEN_SIGNALS = ['HUP', 'USR1', 'USR2', 'INT', 'TERM', 'QUIT', 'WINCH'] as const;

const absolutePath = z.string().refine((p) => p.startsWith('/'), { error: 'must be an absolute path' });

const rotateSchema = z
  .strictObject({
    /** Calendar trigger: rotate once per hour/day/week (ISO, Monday)/month boundary in `timezone`. */
    every: z.enum(['hourly', 'daily', 'weekly', 'monthly']).optional(),
    /** Size trigger: rotate as soon as a file reaches this size, whatever the calendar says. */
    maxSize: size().optional(),
    /** With `every`: a calendar rotation waits until the file holds at least this much. */
    minSize: size().optional(),
    timezone: z
      .string()
      .refine(isValidTimeZone, { error: 'unknown IANA time zone (e.g. UTC, Europe/Paris)' })
      .default('UTC'),
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
    /** Sent to the pid read from `pidFile` (nginx: USR1). */
    signal: z.enum(REOPEN_SIGNALS).optional(),
    pidFile: absolutePath.optional(),
    /** Run through /bin/sh once per set after every file of the set was renamed (e.g. `nginx -s reopen`). */
    command: shellCommand().optional(),
    /** How long the signal/command and the writer letting go of the old file may take. */
    timeout: duration({ min: '100ms', max: '10m' }).default(30_000),
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
  /** Defaults: the owner, group and mode of the file being rotated. */
  owner: ownerSchema.optional(),
  group: ownerSchema.optional(),
  mode: z
    .string()
    .regex(/^0?[0-7]{3}$/, { error: "expected an octal mode such as '0640'" })
    .transform((text) => parseInt(text, 8))
    .optional(),
});

export const logSetSchema = z
  .strictObject({
    name: itemName(),
    /** Absolute paths; `*`, `?` and `[...]` may appear in any segment. Rotated files are never matched. */
    paths: z.array(absolutePath).min(1),
    rotate: rotateSchema,
    /** Rotated files kept per live file (older ones are deleted). */
    keep: z.number().int().min(0).max(10_000).default(7),
    /** Rotated files older than this are deleted, checked every minute. */
    maxAge: duration({ min: '1m', timer: false }).optional(),
    compress: z
      .union([z.boolean(), z.strictObject({ level: z.number().int().min(1).max(9).default(6) })])
      .default(false)
      .transform((value) => (value === false ? undefined : { level: value === true ? 6 : value.level })),
    /** Leave the newest rotated file uncompressed (for writers that keep writing to it a while). */
    delayCompress: z.boolean().default(false),
    /** `dateext`: access.log-20261123T150405Z (UTC); `numbered`: access.log.1, .2, … */
    naming: z.enum(['dateext', 'numbered']).default('dateext'),
    /** Where rotated files go: absolute, or relative to each log's directory; same filesystem. */
    olddir: z.string().min(1).optional(),
    notIfEmpty: z.boolean().default(false),
    missingOk: z.boolean().default(false),
    create: createSchema.optional(),
    reopen: reopenSchema.optional(),
    /** Copy then truncate in place, for writers that cannot reopen. Lines written meanwhile are lost. */
    copyTruncate: z.boolean().default(false),
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

export const configSchema = namedList(logSetSchema);

export type LogsConfig = z.output<typeof configSchema>;
export type LogSetConfig = z.output<typeof logSetSchema>;
export type RotateEvery = NonNullable<LogSetConfig['rotate']['every']>;
export type Naming = LogSetConfig['naming'];
