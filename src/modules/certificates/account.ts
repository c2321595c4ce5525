import { link, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir, tempPathFor, writeFileAtomic } from '../../agent/kit/atomic-file.js';
import { generatePrivateKey } from './keys.js';

/**
 * The ACME account: one key for the life of the install (0600 in the state dir) and the account URL
 * each directory gave us, so orders do not re-register. The key is created once, even when two
 * processes race: it is linked into place, and whoever loses reads the winner's key.
 */
export class AccountStore {
  /** Where the key and the account URLs live; `adopt certbot` hands certbot's account over through them. */
  readonly keyPath: string;
  readonly urlsPath: string;

  constructor(stateDir: string) {
    this.keyPath = join(stateDir, 'account.key');
    this.urlsPath = join(stateDir, 'accounts.json');
  }

  async key(): Promise<string> {
    try {
      return await readFile(this.keyPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error('reading the ACME account key', { cause: err });
    }
    const pem = await generatePrivateKey('ecdsa-p256');
    const temp = tempPathFor(this.keyPath);
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(pem);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, this.keyPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error('saving the ACME account key', { cause: err });
    } finally {
      await unlink(temp).catch(() => undefined);
    }
    await fsyncDir(join(this.keyPath, '..'));
    return readFile(this.keyPath, 'utf8');
  }

  /** Puts another key in place (a cluster's shared account); the URLs of the old one no longer apply. */
  async setKey(pem: string): Promise<void> {
    await writeFileAtomic(this.keyPath, pem, { mode: 0o600 });
    await writeFileAtomic(this.urlsPath, '{}\n', { mode: 0o600 });
  }

  async url(directory: string): Promise<string | undefined> {
    return (await this.readUrls())[directory];
  }

  async setUrl(directory: string, url: string | undefined): Promise<void> {
    const urls = await this.readUrls();
    if (url === undefined) delete urls[directory];
    else urls[directory] = url;
    await writeFileAtomic(this.urlsPath, `${JSON.stringify(urls, null, 2)}\n`, { mode: 0o600 });
  }

  private async readUrls(): Promise<Record<string, string>> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.urlsPath, 'utf8'));
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, string>) : {};
    } catch {
      return {};
    }
  }
}
