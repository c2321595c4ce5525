import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Conflict } from '../../../agent/kit/conflicts.js';
import { bool, parseConfigObj } from './configobj.js';

/** What runs `certbot renew` on Debian and Ubuntu: the package's systemd timer (when enabled) or its cron file. */
export const CERTBOT_SCHEDULES = ['/etc/systemd/system/timers.target.wants/certbot.timer', '/etc/cron.d/certbot'];

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The certificates certbot would still renew too: its renewal file is active and something runs certbot. */
export async function certbotConflicts(dir: string, names: readonly string[], schedules: readonly string[] = CERTBOT_SCHEDULES): Promise<Conflict[]> {
  const scheduler = (await Promise.all(schedules.map(async (s) => ((await exists(s)) ? s : undefined)))).find(Boolean);
  if (!scheduler) return [];
  const found: Conflict[] = [];
  for (const name of names) {
    const conf = join(dir, 'renewal', `${name}.conf`);
    const text = await readFile(conf, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    let autorenew = true;
    try {
      autorenew = bool(parseConfigObj(text, conf).sections.renewalparams, 'autorenew') !== false;
    } catch {
      // A file certbot cannot parse is a lineage it cannot renew either.
      continue;
    }
    if (!autorenew) continue;
    found.push({ item: name, detail: `certbot still renews ${name} (${conf}, run by ${scheduler})`, fix: `caretaker adopt certbot ${name} --dir ${dir} --write` });
  }
  return found;
}
