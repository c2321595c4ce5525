import { EXIT, formatTable, type CliCommand, type CommandContext } from '../../agent/kit/cli.js';
import type { ClusterAnswer } from './answers.js';

async function run(ctx: CommandContext): Promise<number> {
  if (ctx.args.length > 0) {
    ctx.err('usage: caretaker cluster [--json]');
    return EXIT.usage;
  }
  const answer = await ctx.client.get<ClusterAnswer>('/cluster');
  if (ctx.json) {
    ctx.out(JSON.stringify(answer, null, 2));
    return answer.reachable ? EXIT.ok : EXIT.failure;
  }
  const lines = [`cluster ${answer.name}, this node ${answer.node}, lease TTL ${answer.leaseTtlSeconds}s`];
  if (!answer.reachable) {
    lines.push(`Redis UNREACHABLE: ${answer.error ?? 'no answer'}`);
    ctx.out(lines.join('\n'));
    return EXIT.failure;
  }
  lines.push('', formatTable(['NODE', 'LAST SEEN'], answer.nodes.map((n) => [n.node + (n.node === answer.node ? ' (this)' : ''), n.lastSeenAt])));
  lines.push(
    '',
    answer.leases.length === 0
      ? 'no lease held'
      : formatTable(['LEASE', 'HOLDER', 'TOKEN', 'FENCE', 'EXPIRES IN'], answer.leases.map((l) => [l.name, l.holder, String(l.token), String(l.fence), `${(l.expiresInMs / 1000).toFixed(1)}s`])),
  );
  ctx.out(lines.join('\n'));
  return EXIT.ok;
}

export const clusterCommand: CliCommand = {
  name: 'cluster',
  summary: 'show the nodes of the cluster and who holds each lease; exit 1 when its Redis is unreachable',
  usage: 'caretaker cluster [--json]',
  run,
};
