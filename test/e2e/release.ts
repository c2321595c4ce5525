import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { Container, ensureRootfs, type BootOptions } from './container.js';

const run = promisify(execFile);

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** What `install.sh --package` needs from a checkout. */
const RELEASE_INPUTS = ['install.sh', 'package.json', 'package-lock.json', 'tsconfig.json', 'scripts', 'src', 'systemd', 'examples', 'docs'];

export interface Release {
  /** Host directory holding the tarball; containers see it read-only at /mnt/release. */
  dir: TempDir;
  /** caretaker-<version>.tar.gz, or caretaker-<version>-node<major>-linux-<arch>.tar.gz with withNode */
  tarball: string;
  /** Where the server commands of docs/install.md unpack it inside the container, under /root. */
  unpacked: string;
}

export interface ReleaseOptions {
  /** A self-contained release (`--with-node --node PATH`) that carries this node binary as bin/node. */
  withNode?: string;
}

/**
 * The release tarball exactly as a maintainer makes it, built in a copy of the checkout so that its
 * `npm run build` cannot rewrite dist/ under another test that runs the bundle meanwhile.
 * E2E_RELEASE_REF=<commit> builds the product of that commit instead of the working tree (the tests
 * stay those of the working tree): how a scenario is shown to fail before a fix.
 */
export async function buildRelease({ withNode }: ReleaseOptions = {}): Promise<Release> {
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
  const node = withNode ? ['--with-node', '--node', withNode] : [];
  await run('bash', ['install.sh', '--package', '--out', dir.path, ...node], { cwd: checkout, timeout: 180_000 });
  // install.sh names the tarball (the node's major and arch with --with-node); the directory holds only it.
  const tarball = (await readdir(dir.path)).find((entry) => entry.endsWith('.tar.gz'));
  if (!tarball) throw new Error(`install.sh --package wrote no tarball into ${dir.path}`);
  return { dir, tarball, unpacked: `/root/${tarball.slice(0, -'.tar.gz'.length)}` };
}

/** The cached rootfs, a freshly built release, and a container booted with the release at /mnt/release. */
export async function bootWithRelease(
  name: string,
  nspawnArgs: string[] = [],
  options: BootOptions & ReleaseOptions = {},
): Promise<{ ct: Container; release: Release }> {
  await ensureRootfs();
  const release = await buildRelease(options);
  try {
    const ct = await Container.boot(name, [`--bind-ro=${release.dir.path}:/mnt/release`, ...nspawnArgs], options);
    return { ct, release };
  } catch (err) {
    await release.dir.cleanup();
    throw err;
  }
}

/** GET on the admin API from inside the container: prints the body, fails on a non-2xx or no answer. */
export const adminGet = (path: string, port = 9470) =>
  `node -e "fetch('http://127.0.0.1:${port}${path}').then(async (r) => { console.log(await r.text()); process.exit(r.ok ? 0 : 1); }, () => process.exit(2))"`;
