import { access, constants } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { execFile } from './exec.js';

/**
 * `caretaker doctor`: the checks a careful operator runs before trusting the setup. Each module adds its
 * own (spec.doctor); each check is one line, ok / warn / fail, a failure with the fix.
 */

export type DoctorStatus = 'ok' | 'warn' | 'fail';

export interface DoctorLine {
  status: DoctorStatus;
  /** What was checked, short: `webroot shop.test`, `pg_dump pg-app`. */
  check: string;
  detail: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

/** What the service may write and who it is, as systemd runs it; unknown outside systemd. */
export interface Sandbox {
  /** ReadWritePaths= and StateDirectory= of the unit (ProtectSystem=strict makes every other path read-only). */
  writable: string[];
  user: string;
  unit: string;
  /** CAP_DAC_OVERRIDE among the unit's AmbientCapabilities: file modes do not stop it, only the sandbox does. */
  overridesModes: boolean;
}

export interface DoctorContext {
  /** The unit's sandbox, or undefined when systemd does not run it here (the checks say so). */
  sandbox: Sandbox | undefined;
  /** The module's state dir as the config sets it. */
  stateDir: string;
  signal: AbortSignal;
  /** Name → addresses (dns.lookup); a test resolves its own names. */
  resolve(name: string): Promise<string[]>;
  /** The port http-01 is validated on (80; a test moves it). */
  httpPort: number;
}

/** The sandbox of `unit` from `systemctl show`, or undefined when systemctl cannot tell (no systemd, no unit). */
export async function readSandbox(unit: string): Promise<Sandbox | undefined> {
  try {
    const { stdout } = await execFile('systemctl', ['show', unit, '-p', 'LoadState', '-p', 'ReadWritePaths', '-p', 'StateDirectory', '-p', 'User', '-p', 'AmbientCapabilities'], { timeoutMs: 10_000 });
    const props = Object.fromEntries(stdout.split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
    if (props.LoadState !== 'loaded') return undefined;
    const writable = (props.ReadWritePaths ?? '').split(/\s+/).filter(Boolean).map((p) => p.replace(/^-/, ''));
    for (const dir of (props.StateDirectory ?? '').split(/\s+/).filter(Boolean)) writable.push(resolve('/var/lib', dir));
    const overridesModes = /\bcap_dac_override\b/i.test(props.AmbientCapabilities ?? '');
    return { writable, user: props.User || 'root', unit, overridesModes };
  } catch {
    return undefined;
  }
}

function within(path: string, root: string): boolean {
  const p = resolve(path);
  const r = resolve(root);
  return p === r || p.startsWith(r.endsWith(sep) ? r : r + sep);
}

/** The nearest existing directory at or above `path`. */
export async function existingAncestor(path: string): Promise<string> {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    if (await access(dir).then(() => true, () => false)) return dir;
    if (dir === dirname(dir)) return dir;
  }
}

/** Whether `user` may do `test -<flag>` on `path` (runuser as root; the current user otherwise). */
export async function userMay(user: string, flag: 'r' | 'w' | 'x', path: string): Promise<boolean> {
  if (process.getuid?.() !== 0) {
    const mode = { r: constants.R_OK, w: constants.W_OK, x: constants.X_OK }[flag];
    return access(path, mode).then(() => true, () => false);
  }
  try {
    await execFile('runuser', ['-u', user, '--', 'test', `-${flag}`, path], { timeoutMs: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * One line for a path the service writes: inside the unit's ReadWritePaths (when systemd runs it) and
 * writable by its user (the path, or the directory it will be created in).
 */
export async function writablePathLine(check: string, path: string, sandbox: Sandbox | undefined): Promise<DoctorLine> {
  if (sandbox && !sandbox.writable.some((root) => within(path, root))) {
    return {
      status: 'fail',
      check,
      detail: `${path} is outside the service's ReadWritePaths (${sandbox.writable.join(' ') || 'none'}): it is read-only to caretaker under ProtectSystem=strict`,
      fix: `a drop-in with [Service] ReadWritePaths=${path} (systemctl edit ${sandbox.unit}), then systemctl restart ${sandbox.unit}`,
    };
  }
  const user = sandbox?.user ?? 'the current user';
  const target = await existingAncestor(path);
  if (sandbox && !sandbox.overridesModes && !(await userMay(sandbox.user, 'w', target))) {
    return { status: 'fail', check, detail: `${target} is not writable by ${user}`, fix: `chown ${sandbox.user} ${target} (or make it group-writable for ${sandbox.user})` };
  }
  return { status: 'ok', check, detail: sandbox ? `${path} writable by ${user} inside the sandbox` : `${path} (sandbox not checked: systemd does not run caretaker here)` };
}
