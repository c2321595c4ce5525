import { EXIT, formatTable, type CliCommand, type CommandContext } from '../../agent/kit/cli.js';
import { isHealthy, type CertificateView } from './cert-state.js';
import type { RenewOutcome } from './manager.js';

function day(iso: string | undefined): string {
  return iso ? iso.slice(0, 16).replace('T', ' ') : '-';
}

function renderList(certs: CertificateView[]): string {
  if (certs.length === 0) return 'no certificates configured';
  return formatTable(
    ['NAME', 'STATE', 'EXPIRES', 'NEXT RENEWAL', 'DOMAINS', 'LAST ERROR'],
    certs.map((c) => [c.name, c.state, day(c.notAfter), `${day(c.nextRenewalAt)} (${c.renewalReason ?? '-'})`, c.domains.join(','), c.consecutiveFailures > 0 ? (c.lastError ?? '') : '']),
  );
}

async function list(ctx: CommandContext): Promise<number> {
  const { certificates } = await ctx.client.get<{ certificates: CertificateView[] }>('/certs');
  ctx.out(ctx.json ? JSON.stringify(certificates, null, 2) : renderList(certificates));
  return certificates.every(isHealthy) ? EXIT.ok : EXIT.failure;
}

async function renew(ctx: CommandContext, name: string): Promise<number> {
  const outcome = await ctx.client.post<RenewOutcome>(`/certs/${encodeURIComponent(name)}/renew`);
  const cert = outcome.certificate;
  if (ctx.json) ctx.out(JSON.stringify(outcome, null, 2));
  else if (outcome.result === 'success') {
    const deploy = cert.deploy ? (cert.deploy.ok ? ', deployed' : `, deploy FAILED: ${cert.deploy.message ?? ''}`) : '';
    ctx.out(`renewed ${name}: serial ${cert.serial}, expires ${day(cert.notAfter)}${deploy}`);
  } else ctx.err(`renewal of ${name} failed: ${cert.lastError ?? 'unknown error'} (next retry ${day(cert.retryAt)})`);
  return outcome.result === 'success' && cert.deploy?.ok !== false ? EXIT.ok : EXIT.failure;
}

/** `caretaker certs` lists certificates; `caretaker certs renew NAME` orders one now. */
export const certsCommand: CliCommand = {
  name: 'certs',
  summary: 'list certificates, or renew one now',
  usage: 'caretaker certs [renew NAME] [--json]',
  async run(ctx) {
    const [sub, name, ...rest] = ctx.args;
    if (sub === undefined) return list(ctx);
    if (sub === 'renew' && name && rest.length === 0) return renew(ctx, name);
    ctx.err(`usage: ${this.usage}`);
    return EXIT.usage;
  },
};
