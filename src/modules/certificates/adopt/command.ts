import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { EXIT, type CliCommand, type CommandContext } from '../../../agent/kit/cli.js';
import { configSchema } from '../config.js';
import { checkAccountImport, handOverLineage, importAccount, mergeIntoConfig, retireFromCertbot, sectionYaml, serviceOwner, writeConfig, type SectionInput } from './apply.js';
import { lineageNames, planLineage, readAccount, readLineage, type CertbotAccount, type LineagePlan } from './certbot.js';

const USAGE = 'caretaker adopt certbot [NAME...] [--dir /etc/letsencrypt] [--email ADDRESS] [--dry-run] [--write] [--replace-account]';

type Adopted = Extract<LineagePlan, { cert: unknown }>;

/** The email for the account: --email, certbot's registration, or the config's own acme.email. */
async function emailFor(ctx: CommandContext, account: CertbotAccount): Promise<string | undefined> {
  if (typeof ctx.flags.email === 'string') return ctx.flags.email;
  if (account.email) return account.email;
  const doc = parseYaml(await readFile(ctx.configPath, 'utf8').catch(() => '')) as { certificates?: { acme?: { email?: unknown } } } | null;
  const email = doc?.certificates?.acme?.email;
  return typeof email === 'string' ? email : undefined;
}

/**
 * One CA and one account per config: the first adoptable lineage decides them, and a lineage renewing
 * against another CA or with another account of the same CA is left to certbot, with the reason.
 */
function oneAccount(plans: LineagePlan[]): LineagePlan[] {
  const first = plans.find((p): p is Adopted => 'cert' in p);
  if (!first) return plans;
  return plans.map((plan) => {
    if (!('cert' in plan)) return plan;
    if (plan.lineage.server !== first.lineage.server) return { name: plan.name, lineage: plan.lineage, skipped: `renews against ${plan.lineage.server}, while this adoption is for ${first.lineage.server}: adopt it on its own` };
    if (plan.lineage.accountId !== first.lineage.accountId) return { name: plan.name, lineage: plan.lineage, skipped: `uses certbot account ${plan.lineage.accountId ?? '(none)'}, while this adoption takes account ${first.lineage.accountId ?? '(none)'}` };
    return plan;
  });
}

async function adopt(ctx: CommandContext): Promise<number> {
  const dir = typeof ctx.flags.dir === 'string' ? ctx.flags.dir.replace(/\/+$/, '') : '/etc/letsencrypt';
  const write = ctx.flags.write === true && ctx.flags['dry-run'] !== true;
  const named = ctx.args.length > 0;
  const names = named ? ctx.args : await lineageNames(dir);
  if (names.length === 0) {
    ctx.err(`no certbot lineages in ${dir}/renewal/`);
    return EXIT.failure;
  }
  // Every file is read before anything is written: a corrupt one stops the whole adoption.
  const plans = oneAccount(await Promise.all(names.map(async (name) => planLineage(dir, await readLineage(dir, name)))));
  const adopted = plans.filter((p): p is Adopted => 'cert' in p);
  for (const plan of plans) {
    if ('skipped' in plan) ctx.err(`${plan.name}: left to certbot: ${plan.skipped}`);
    else for (const note of plan.notes) ctx.err(`${plan.name}: ${note}`);
  }
  if (adopted.length === 0) {
    ctx.err('nothing to adopt');
    return EXIT.failure;
  }
  const lead = adopted[0]!.lineage;
  if (!lead.accountId) throw new Error(`${lead.confPath}: [renewalparams] names no account`);
  const account = await readAccount(dir, lead.server, lead.accountId);
  const email = await emailFor(ctx, account);
  const printOnly = ctx.flags.write !== true && ctx.flags['dry-run'] !== true;
  if (!email && !printOnly) throw new Error('certbot kept no contact address for the account and the config has none: give --email ADDRESS');
  const section: SectionInput = { dir, acme: { directory: lead.server, email: email ?? 'you@example.com' }, certs: adopted.map((p) => p.cert) };
  ctx.out(sectionYaml(section).trimEnd());
  if (!email) ctx.err('certbot kept no contact address for the account: set acme.email (or give --email)');
  if (printOnly) {
    ctx.err('nothing changed: run again with --write to adopt (it also imports the account and stops certbot renewing them)');
    return named && plans.some((p) => 'skipped' in p) ? EXIT.failure : EXIT.ok;
  }

  const merged = mergeIntoConfig(await readFile(ctx.configPath, 'utf8'), section);
  const check = configSchema.safeParse((parseYaml(merged.text) as { certificates?: unknown }).certificates);
  if (!check.success) {
    for (const issue of check.error.issues) ctx.err(`certificates.${issue.path.join('.')}: ${issue.message}`);
    ctx.err(`the merged certificates section would not load; ${ctx.configPath} is unchanged`);
    return EXIT.config;
  }
  const stateDir = await ctx.stateDir();
  const owner = await serviceOwner(stateDir);
  await checkAccountImport(stateDir, account, ctx.flags['replace-account'] === true);
  const say = (change: string) => ctx.err(write ? change : `would ${change}`);
  if (write) {
    const backup = await writeConfig(ctx.configPath, merged.text, new Date());
    say(`merged ${merged.added.join(', ') || 'nothing new'} into ${ctx.configPath} (the previous file is ${backup})`);
  } else say(`merge ${merged.added.join(', ') || 'nothing new'} into ${ctx.configPath}`);
  for (const name of merged.kept) ctx.err(`${name}: already in ${ctx.configPath}, kept as it is`);
  if (write) await importAccount(stateDir, lead.server, account, owner);
  say(`import certbot's account ${account.url} into ${stateDir}/account.key and accounts.json`);
  for (const plan of adopted) {
    if (write) {
      await handOverLineage(dir, plan.name, owner);
      const moved = await retireFromCertbot(plan.lineage);
      say(`hand ${dir}/live/${plan.name} and archive/${plan.name} to uid ${owner.uid}; take ${plan.name} from certbot (its renewal file is now ${moved}, autorenew = False)`);
    } else say(`hand ${dir}/live/${plan.name} to uid ${owner.uid} and take ${plan.name} from certbot (renewal/${plan.name}.conf moved aside, autorenew = False)`);
  }
  if (write) ctx.err('done: run `systemctl reload caretaker` (or `caretaker reload`) so the daemon renews them from now on');
  return named && plans.some((p) => 'skipped' in p) ? EXIT.failure : EXIT.ok;
}

/** `caretaker adopt certbot`: certbot's lineages and account taken over in place. */
export const adoptCertbotCommand: CliCommand = {
  name: 'adopt certbot',
  summary: "take certbot's lineages and ACME account over in place (prints the config; --write applies it)",
  usage: USAGE,
  run: adopt,
};
