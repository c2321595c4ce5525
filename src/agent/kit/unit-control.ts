import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { execFile, ExecError, type ExecOptions } from './exec.js';

/**
 * `systemctl reload nginx` as a deploy or reopen command. The daemon runs as its own user, and systemd
 * lets a user other than root reload or restart a unit only when polkit says so: install.sh writes a rule
 * for the units it is given (`--allow-unit`) or finds in the config, and lists them in this file.
 */
export const ALLOWED_UNITS_FILE = '/etc/caretaker/allowed-units';

/** The verbs the polkit rule grants; everything else (start, stop, enable…) stays root's. */
const UNIT_VERBS = ['reload', 'restart', 'try-restart', 'reload-or-restart', 'try-reload-or-restart'] as const;

/** What some servers offer as their own control, which needs no permission from systemd. */
const OWN_CONTROL: Record<string, string> = {
  'nginx.service': 'nginx -s reload',
  'apache2.service': 'apachectl graceful',
  'haproxy.service': 'kill -USR2 $(cat /run/haproxy.pid)',
};

/** `nginx` → `nginx.service`, as systemctl reads a unit name without a suffix. */
export function unitName(name: string): string {
  return /\.(service|socket|target|timer|path|mount|slice|scope)$/.test(name) ? name : `${name}.service`;
}

/** The units a shell command asks systemctl to reload or restart; none when it is not such a command. */
export function controlledUnits(command: string): string[] {
  const units: string[] = [];
  // One simple command per `&&`/`;`/`||` step; anything fancier is the user's own business.
  for (const step of command.split(/&&|\|\||;/)) {
    const words = step.trim().split(/\s+/).filter((w) => !w.startsWith('-'));
    const at = words.findIndex((w) => w === 'systemctl' || w.endsWith('/systemctl'));
    if (at === -1 || (at > 0 && words[at - 1] !== 'sudo' && words[at - 1] !== 'exec')) continue;
    const verb = words[at + 1];
    if (!UNIT_VERBS.includes(verb as (typeof UNIT_VERBS)[number])) continue;
    units.push(...words.slice(at + 2).map(unitName));
  }
  return units;
}

export interface UnitPolicy {
  /** Units the service may reload/restart; undefined when there is no list (not installed by install.sh). */
  allowed: readonly string[] | undefined;
  /** Whether this process is root, which needs no rule. */
  root: boolean;
}

/** The policy of this host: install.sh's list, or none. */
export function hostUnitPolicy(): UnitPolicy {
  let allowed: string[] | undefined;
  try {
    allowed = readFileSync(ALLOWED_UNITS_FILE, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
  } catch {
    allowed = undefined;
  }
  return { allowed, root: process.getuid?.() === 0 };
}

/** Why `command` would be refused by systemd when the service runs it, with the fix; undefined when it may run. */
export function unitControlProblem(command: string, policy: UnitPolicy): string | undefined {
  // Root outside an installed service (a checkout, a test) can reload anything; the installed
  // service's list applies to root's check-config too, so it answers as the daemon will.
  if (policy.allowed === undefined && policy.root) return undefined;
  const denied = controlledUnits(command).filter((unit) => !policy.allowed?.includes(unit));
  if (denied.length === 0) return undefined;
  const unit = denied[0]!;
  const own = OWN_CONTROL[unit];
  return (
    `\`${command}\` needs permission the caretaker service user does not have for ${unit}: ` +
    `allow it with \`sudo /opt/caretaker/install.sh --allow-unit ${unit}\` (a polkit rule for reload/restart of that unit only)` +
    (own ? `, or use the server's own control: \`${own}\`` : '')
  );
}

/** A shell command (deploy, reopen); a systemctl reload/restart must be one the service may run. */
export function shellCommand(policy: () => UnitPolicy = hostUnitPolicy) {
  return z
    .string()
    .min(1)
    .superRefine((command, ctx) => {
      if (!command.includes('systemctl')) return;
      const problem = unitControlProblem(command, policy());
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

/** What to do about a systemctl command that failed at run time because systemd (polkit) refused it. */
export function unitControlHint(command: string, failure: { exitCode: number | null; stderr: string }): string | undefined {
  const units = controlledUnits(command);
  // systemctl exits 4 (EXIT_NOPERMISSION) with no more than "See system logs" when polkit says no.
  const refused = failure.exitCode === 4 || /access denied|authentication required|not authorized/i.test(failure.stderr);
  if (units.length === 0 || !refused) return undefined;
  return `systemd refused the caretaker user: allow it with \`sudo /opt/caretaker/install.sh --allow-unit ${units[0]}\` (needs polkit: apt-get install polkitd)`;
}

/** Runs a user's command through /bin/sh; a systemctl that systemd refused says how to allow it. */
export async function runShellCommand(command: string, options: ExecOptions): Promise<void> {
  try {
    await execFile('/bin/sh', ['-c', command], { ...options, startsChildren: true });
  } catch (err) {
    const hint = err instanceof ExecError ? unitControlHint(command, err) : undefined;
    if (!hint || !(err instanceof ExecError)) throw err;
    throw new ExecError(`${err.message}: ${hint}`, err, { cause: err });
  }
}
