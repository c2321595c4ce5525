// The Debian tools a bench compares against are not test dependencies (on a machine running systemd,
// installing an exporter also starts it as a service): a bench checks for them first and says what to install.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** Throws with the apt-get line for every binary of `packages` (binary name -> Debian package) not on PATH. */
export function requirePackages(packages: Record<string, string>): void {
  const dirs = (process.env.PATH ?? '/usr/bin:/bin').split(':').filter(Boolean);
  const onPath = (binary: string) =>
    dirs.some((dir) => {
      try {
        accessSync(path.join(dir, binary), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  const missing = [...new Set(Object.entries(packages).filter(([binary]) => !onPath(binary)).map(([, pkg]) => pkg))];
  if (missing.length > 0) throw new Error(`missing tools to compare against; run: apt-get install -y ${missing.join(' ')}`);
}
