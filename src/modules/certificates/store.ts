import { createPrivateKey, X509Certificate } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, readlink, rename, rm, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, tempPathFor } from '../../agent/kit/atomic-file.js';

/**
 * certbot's layout, `<dir>/live/<name>/{privkey,cert,chain,fullchain}.pem`, written so key and chain
 * change as one unit: each issue goes into a fresh `<dir>/archive/<name>/<version>/` (files and
 * directory fsynced), then `live/<name>` — itself a symlink to that directory — is replaced by
 * renaming a new symlink over it. A crash at any point leaves `live/<name>` on a complete, matching
 * set; the previous version stays on disk for rollback (`ln -sfn ../archive/<name>/<n> live/<name>`).
 */

export interface CertificateSet {
  keyPem: string;
  /** Leaf first, then intermediates, as the CA returned it. */
  fullchainPem: string;
}

export interface StoredCertificate extends CertificateSet {
  version: number;
  certPem: string;
  chainPem: string;
  cert: X509Certificate;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitChain(pem: string): string[] {
  return (pem.match(PEM_CERT) ?? []).map((block) => `${block}\n`);
}

/** Throws unless the chain parses and its leaf carries the key's public key. */
export function checkSet(set: CertificateSet): X509Certificate {
  const blocks = splitChain(set.fullchainPem);
  if (blocks.length === 0) throw new Error('the chain holds no certificate');
  const leaf = new X509Certificate(blocks[0]!);
  if (!leaf.checkPrivateKey(createPrivateKey(set.keyPem))) throw new Error('the certificate does not match the private key');
  return leaf;
}

export class CertificateStore {
  constructor(readonly dir: string) {}

  livePath(name: string): string {
    return join(this.dir, 'live', name);
  }

  private archivePath(name: string): string {
    return join(this.dir, 'archive', name);
  }

  /** The live set, or undefined when none was ever written. */
  async read(name: string): Promise<StoredCertificate | undefined> {
    let target: string;
    let version = 0;
    try {
      const stat = await lstat(this.livePath(name));
      // Resolve the link once, so key and certificate come from the same version even mid-swap.
      if (stat.isSymbolicLink()) {
        const link = await readlink(this.livePath(name));
        target = join(this.dir, 'live', link);
        version = Number(link.split('/').pop()) || 0;
      } else target = this.livePath(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const [keyPem, certPem, chainPem, fullchainPem] = await Promise.all(
      ['privkey.pem', 'cert.pem', 'chain.pem', 'fullchain.pem'].map((file) => readFile(join(target, file), 'utf8')),
    );
    return { version, keyPem: keyPem!, certPem: certPem!, chainPem: chainPem!, fullchainPem: fullchainPem!, cert: new X509Certificate(certPem!) };
  }

  /** Writes a new version and makes it live; returns the version number. */
  async write(name: string, set: CertificateSet): Promise<number> {
    checkSet(set);
    const [leaf, ...intermediates] = splitChain(set.fullchainPem);
    const archive = this.archivePath(name);
    const live = join(this.dir, 'live');
    await mkdir(archive, { recursive: true, mode: 0o755 });
    await mkdir(live, { recursive: true, mode: 0o755 });

    const previous = await this.currentVersion(name);
    const { version, path } = await this.newVersionDir(archive);
    const files: Array<[string, string, number]> = [
      ['privkey.pem', set.keyPem, 0o600],
      ['cert.pem', leaf!, 0o644],
      ['chain.pem', intermediates.join(''), 0o644],
      ['fullchain.pem', [leaf!, ...intermediates].join(''), 0o644],
    ];
    for (const [file, content, mode] of files) await writeDurable(join(path, file), content, mode);
    await fsyncDir(path);
    await fsyncDir(archive);

    await this.pointLiveAt(name, version);
    await this.prune(name, new Set([version, ...(previous === undefined ? [] : [previous])]));
    return version;
  }

  /** The version `live/<name>` points at, undefined when it is absent or not one of ours. */
  async currentVersion(name: string): Promise<number | undefined> {
    try {
      const link = await readlink(this.livePath(name));
      const version = Number(link.split('/').pop());
      return Number.isInteger(version) ? version : undefined;
    } catch {
      return undefined;
    }
  }

  async versions(name: string): Promise<number[]> {
    try {
      return (await readdir(this.archivePath(name)))
        .filter((entry) => /^\d+$/.test(entry))
        .map(Number)
        .sort((a, b) => a - b);
    } catch {
      return [];
    }
  }

  private async newVersionDir(archive: string): Promise<{ version: number; path: string }> {
    const existing = (await readdir(archive)).filter((e) => /^\d+$/.test(e)).map(Number);
    for (let version = Math.max(0, ...existing) + 1; ; version++) {
      const path = join(archive, String(version));
      try {
        await mkdir(path, { mode: 0o755 });
        return { version, path };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }

  private async pointLiveAt(name: string, version: number): Promise<void> {
    const livePath = this.livePath(name);
    await this.removeStaleTempLinks(name);
    const temp = tempPathFor(livePath);
    await symlink(join('..', 'archive', name, String(version)), temp);
    try {
      await this.moveAsideCertbotDir(name);
      await rename(temp, livePath);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    await fsyncDir(join(this.dir, 'live'));
  }

  /** Temp links a crash left between creating and renaming them (callers hold the certificate's lock). */
  private async removeStaleTempLinks(name: string): Promise<void> {
    const live = join(this.dir, 'live');
    const prefix = `.${name}.`;
    for (const entry of await readdir(live)) {
      if (entry.startsWith(prefix) && entry.endsWith('.tmp')) await unlink(join(live, entry)).catch(() => undefined);
    }
  }

  /**
   * certbot keeps `live/<name>` as a real directory of per-file links; a symlink cannot be renamed over
   * a directory, so that directory moves into the archive first (the one non-atomic step, on first use).
   */
  private async moveAsideCertbotDir(name: string): Promise<void> {
    const livePath = this.livePath(name);
    const stat = await lstat(livePath).catch(() => undefined);
    if (!stat?.isDirectory()) return;
    await rename(livePath, join(this.archivePath(name), `certbot-live-${Date.now()}`));
  }

  /** Removes versions other than `keep`: older ones and any left half-written by a crash. */
  private async prune(name: string, keep: Set<number>): Promise<void> {
    for (const version of await this.versions(name)) {
      if (!keep.has(version)) await rm(join(this.archivePath(name), String(version)), { recursive: true, force: true });
    }
  }
}

/** A new file, created with its final mode (a key is never readable by others, even briefly), synced. */
async function writeDurable(path: string, content: string, mode: number): Promise<void> {
  const handle = await open(path, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
