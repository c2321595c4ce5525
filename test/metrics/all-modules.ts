import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../harness/ports.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The shipped examples/full.yaml with every module configured, pointed at dir and at a port where
 * nothing listens, so no module reaches outside; admin and metrics on ports the OS picks (or given ones).
 */
export async function allModulesConfig(dir: string, options: { host?: boolean; admin?: number; metrics?: number } = {}): Promise<string> {
  const dead = await freePort();
  await mkdir(join(dir, 'logs'), { recursive: true });
  await writeFile(join(dir, 'logs', 'access.log'), 'GET / 200\n');
  const example = await readFile(join(root, 'examples', 'full.yaml'), 'utf8');
  return example
    .replaceAll('/var/lib/caretaker', `${dir}/state`)
    .replaceAll('/etc/letsencrypt', `${dir}/le`)
    .replaceAll('/var/backups/caretaker', `${dir}/backups`)
    .replaceAll('/var/www/certbot', `${dir}/www`)
    .replaceAll('/var/log/nginx/*.log', `${dir}/logs/*.log`)
    .replaceAll('/var/log/', `${dir}/other-logs/`)
    .replaceAll('/run/nginx.pid', `${dir}/nginx.pid`)
    .replaceAll('https://acme-v02.api.letsencrypt.org/directory', `https://127.0.0.1:${dead}/directory`)
    .replace(/127\.0\.0\.1:(?!947[01]\b)\d+/g, `127.0.0.1:${dead}`)
    .replace('127.0.0.1:9470', `127.0.0.1:${options.admin ?? 0}`)
    .replace('127.0.0.1:9471', `127.0.0.1:${options.metrics ?? 0}`)
    .replace('host: true ', `host: ${options.host ?? true} `);
}
