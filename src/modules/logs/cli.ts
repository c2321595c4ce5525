import { ApiError, DaemonUnreachableError, EXIT, formatBytes, formatTable, isNotConfigured, type CliCommand, type CommandContext } from '../../agent/kit/cli.js';
import type { RotationOutcome, SetStatus } from './log-set.js';
import type { LogsStatus } from './rotator.js';

function describeSet(set: SetStatus): string[] {
  const size = set.files.reduce((sum, f) => sum + f.size, 0);
  const state = set.busy ? 'rotating' : set.problems.length > 0 ? 'problem' : 'ok';
  return [set.name, state, String(set.files.length), formatBytes(size), set.lastRotation ?? 'never', set.problems[0] ?? ''];
}

async function withDaemon(ctx: CommandContext, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof DaemonUnreachableError) {
      ctx.err(err.message);
      return EXIT.unavailable;
    }
    if (err instanceof ApiError) {
      ctx.err(err.message);
      if (isNotConfigured(err)) return EXIT.config;
      return err.status === 404 ? EXIT.usage : EXIT.failure;
    }
    throw err;
  }
}

async function list(ctx: CommandContext): Promise<number> {
  const status = await ctx.client.get<LogsStatus>('/logs');
  if (ctx.json) ctx.out(JSON.stringify(status, null, 2));
  else {
    ctx.out(formatTable(['LOG', 'STATE', 'FILES', 'LIVE', 'LAST ROTATION', 'PROBLEM'], status.logs.map(describeSet)));
    if (status.stateRebuilt) ctx.out(`\nnote: ${status.stateRebuilt}`);
  }
  return status.logs.some((s) => s.problems.length > 0) ? EXIT.failure : EXIT.ok;
}

async function rotate(ctx: CommandContext, name: string): Promise<number> {
  const outcome = await ctx.client.post<RotationOutcome>(`/logs/${encodeURIComponent(name)}/rotate`);
  if (ctx.json) ctx.out(JSON.stringify(outcome, null, 2));
  else {
    if (outcome.rotated.length === 0 && outcome.errors.length === 0) ctx.out(`${name}: nothing to rotate`);
    for (const r of outcome.rotated) ctx.out(`${r.path} -> ${r.to} (${formatBytes(r.bytes)})`);
    for (const e of outcome.errors) ctx.err(`error: ${e}`);
  }
  return outcome.result === 'failure' ? EXIT.failure : EXIT.ok;
}

/** `caretaker logs` lists the sets; `caretaker logs rotate NAME` rotates one now. */
export const logsCommand: CliCommand = {
  name: 'logs',
  summary: 'show log rotation state, or rotate a log set now',
  usage: 'caretaker logs [rotate NAME] [--json]',
  async run(ctx) {
    const [sub, name, ...extra] = ctx.args;
    if (sub === undefined) return withDaemon(ctx, () => list(ctx));
    if (sub === 'rotate' && name !== undefined && extra.length === 0) return withDaemon(ctx, () => rotate(ctx, name));
    ctx.err(`usage: ${logsCommand.usage}`);
    return EXIT.usage;
  },
};
