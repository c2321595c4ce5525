import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Set by scripts/build.mjs in the bundle; absent when running from source. */
declare const __CARETAKER_VERSION__: string | undefined;

/** From source, the package version is found by walking up from this file to package.json. */
function readVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'caretaker' && pkg.version) return pkg.version;
    } catch {
      // not at the package root yet
    }
    dir = dirname(dir);
  }
  return '0.0.0-unknown';
}

export const VERSION = typeof __CARETAKER_VERSION__ === 'string' ? __CARETAKER_VERSION__ : readVersion();
