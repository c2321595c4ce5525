import { EXIT, startProgress, type CliCommand, type CommandContext } from '../../../agent/kit/cli.js';
import { describeError } from '../../../agent/kit/errors.js';
import { redactUrl } from '../../../agent/kit/redact-url.js';
import { redisTargetFor } from '../../../agent/kit/redis.js';
import { parseSize } from '../../../agent/kit/schema.js';
import { copyKeys, type CopyResult } from './logical/copy.js';
import { describeCounts } from './logical/writer.js';

const USAGE = 'caretaker redis copy SRC_URL DST_URL [--match PATTERN] [--dry-run] [--replace] [--max-request-size 10MB]';
const FLAGS = new Set(['match', 'dry-run', 'replace', 'max-request-size']);
const DEFAULT_MAX_REQUEST = '512MiB';

function summary(result: CopyResult, dryRun: boolean): string {
  if (dryRun) {
    const existing = result.counts.existing > 0 ? `; ${result.counts.existing} already on the target would be left alone (--replace overwrites them)` : '';
    return `dry run: ${result.wouldCopy} of ${result.scanned} keys would be copied${existing}; nothing was written`;
  }
  return [describeCounts(result.counts, 'copied') + (result.counts.existing > 0 ? ' (--replace overwrites them)' : ''), ...result.failures].join('\n');
}

async function copy(ctx: CommandContext): Promise<number> {
  const [src, dst, ...rest] = ctx.args;
  const stray = Object.keys(ctx.flags).find((f) => !FLAGS.has(f));
  const match = ctx.flags.match;
  const maxRequest = parseSize(String(ctx.flags['max-request-size'] ?? DEFAULT_MAX_REQUEST));
  if (!src || !dst || rest.length > 0 || stray !== undefined || match === true || maxRequest === undefined) {
    ctx.err(`usage: ${USAGE}${stray ? ` (unknown option --${stray})` : ''}`);
    return EXIT.usage;
  }
  let from, to;
  try {
    [from, to] = [await redisTargetFor(src, undefined), await redisTargetFor(dst, undefined)];
  } catch (err) {
    // The URL itself may hold a password: only what is wrong with it is said.
    ctx.err(`redis copy: ${describeError(err)}; ${USAGE}`);
    return EXIT.usage;
  }
  const dryRun = ctx.flags['dry-run'] === true;
  const where = `${redactUrl(src)} → ${redactUrl(dst)}`;
  if (!ctx.json) ctx.err(`${dryRun ? 'checking' : 'copying'} ${where}${match ? ` (keys matching ${JSON.stringify(match)})` : ''}…`);
  const progress = await startProgress(ctx, 'redis copy');
  try {
    const result = await copyKeys(from, to, {
      match: match as string | undefined,
      dryRun,
      replace: ctx.flags.replace === true,
      maxRequestBytes: maxRequest,
      signal: new AbortController().signal,
      onProgress: (keys, bytes) => progress?.update(bytes, undefined, `${keys} keys`),
    });
    progress?.end();
    const data = { source: redactUrl(src), target: redactUrl(dst), dryRun, scanned: result.scanned, ...(dryRun ? { wouldCopy: result.wouldCopy } : {}), ...result.counts, failures: result.failures };
    ctx.out(ctx.json ? JSON.stringify(data, null, 2) : summary(result, dryRun));
    return result.counts.failed > 0 ? EXIT.failure : EXIT.ok;
  } catch (err) {
    progress?.end();
    ctx.err(`redis copy: ${describeError(err)}`);
    return EXIT.failure;
  }
}

/** `caretaker redis copy`: keys from one server to another (a local Redis to Upstash), in this process, no daemon needed. */
export const redisCopyCommand: CliCommand = {
  name: 'redis copy',
  summary: 'copy keys between two Redis servers (SCAN + DUMP/RESTORE, TTLs kept; keys on the target left alone unless --replace)',
  usage: USAGE,
  run: copy,
};
