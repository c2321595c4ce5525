import { formatTable, EXIT, type CliCommand, type CommandContext } from '../../agent/kit/cli.js';
import type { ProbeView } from './probe.js';

function row(probe: ProbeView): string[] {
  const last = probe.last;
  return [
    probe.name,
    probe.kind,
    probe.status === 'up' ? 'yes' : probe.status === 'down' ? 'NO' : 'pending',
    last ? `${last.latencyMs.toFixed(1)} ms` : '-',
    last?.reason ?? '-',
    last?.message ?? '',
  ];
}

async function run(ctx: CommandContext): Promise<number> {
  if (ctx.args.length > 1) {
    ctx.err('usage: caretaker probes [NAME] [--now]');
    return EXIT.usage;
  }
  const name = ctx.args[0];
  let probes =
    name === undefined
      ? (await ctx.client.get<{ probes: ProbeView[] }>('/probes')).probes
      : [await ctx.client.get<ProbeView>(`/probes/${encodeURIComponent(name)}`)];
  if (ctx.flags.now === true) {
    probes = await Promise.all(probes.map((p) => ctx.client.post<ProbeView>(`/probes/${encodeURIComponent(p.name)}/check`)));
  }
  if (ctx.json) ctx.out(JSON.stringify(name === undefined ? { probes } : probes[0], null, 2));
  else if (probes.length === 0) ctx.out('no probes configured');
  else ctx.out(formatTable(['NAME', 'KIND', 'UP', 'LATENCY', 'REASON', 'MESSAGE'], probes.map(row)));
  return probes.some((p) => p.status === 'down') ? EXIT.failure : EXIT.ok;
}

export const probesCommand: CliCommand = {
  name: 'probes',
  summary: 'show each probe with its latest result (--now: check it first); exit 1 when one is down',
  usage: 'caretaker probes [NAME] [--now] [--json]',
  run,
};
