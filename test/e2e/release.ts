import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { Container, ensureRootfs } from './container.js';

const run = promisify(execFile);

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** What `install.sh --package` needs from a checkout. */
const RELEASE_INPUTS = ['install.sh', 'package.json', 'package-lock.json', 'tsconfig.json', 'scripts', 'src', 'systemd', 'examples', 'docs'];

export interface Release {
  /** Host directory holding the tarball; containers see it read-only at /mnt/release. */
  dir: TempDir;
  /** caretaker-<version>.tar.gz */
  tarball: string;
  /** Where the server commands of docs/install.md unpack it inside the container, under /root. */
  unpacked: string;
}

/**
 * The release tarball exactly as a maintainer makes it, built in a copy of the checkout so that its
 * `npm run build` cannot rewrite dist/ under another test that runs the bundle meanwhile.
 * E2E_RELEASE_REF=<commit> builds the product of that commit instead of the working tree (the tests
 * stay those of the working tree): how a scenario is shown to fail before a fix.
 */
export async function buildRelease(): Promise<Release> {
  const dir = await makeTempDir('e2e-release');
  const checkout = join(dir.path, 'checkout');
  await mkdir(checkout);
  const ref = process.env.E2E_RELEASE_REF;
  if (ref) {
    const archive = join(dir.path, 'checkout.tar');
    await run('git', ['archive', '--output', archive, ref, ...RELEASE_INPUTS], { cwd: repoRoot });
    await run('tar', ['-xf', archive, '-C', checkout]);
  } else {
    for (const entry of RELEASE_INPUTS) await cp(join(repoRoot, entry), join(checkout, entry), { recursive: true });
  }
  await symlink(join(repoRoot, 'node_modules'), join(checkout, 'node_modules'));
  await run('bash', ['install.sh', '--package', '--out', dir.path], { cwd: checkout, timeout: 180_000 });
  const { version } = JSON.parse(await readFile(join(checkout, 'package.json'), 'utf8')) as { version: string };
  return { dir, tarball: `caretaker-${version}.tar.gz`, unpacked: `/root/caretaker-${version}` };
}

/** The cached rootfs, a freshly built release, and a container booted with the release at /mnt/release. */
export async function bootWithRelease(name: string, nspawnArgs: string[] = []): Promise<{ ct: Container; release: Release }> {
  await ensureRootfs();
  const release = await buildRelease();
  try {
    const ct = await Container.boot(name, [`--bind-ro=${release.dir.path}:/mnt/release`, ...nspawnArgs]);
    return { ct, release };
  } catch (err) {
    await release.dir.cleanup();
    throw err;
  }
}

/** GET on the admin API from inside the container: prints the body, fails on a non-2xx or no answer. */
export const adminGet = (path: string, port = 9470) =>
  `node -e "fetch('http://127.0.0.1:${port}${path}').then(async (r) => { console.log(await r.text()); process.exit(r.ok ? 0 : 1); }, () => process.exit(2))"`;
