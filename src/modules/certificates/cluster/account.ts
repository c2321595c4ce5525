import type { ClusterService } from '../../../agent/kit/cluster.js';
import type { AccountStore } from '../account.js';
import type { AcmeService } from '../acme.js';

const ACCOUNT_KEY = 'account';
const ACCOUNT_LEASE = 'account';

/** The one ACME account of the cluster in Redis: its key sealed, and its URL at each directory. */
interface SharedAccount {
  key: string;
  urls: Record<string, string>;
}

async function readShared(cluster: ClusterService): Promise<{ keyPem: string; urls: Record<string, string> } | null> {
  const raw = await cluster.read(ACCOUNT_KEY);
  if (!raw) return null;
  const record = JSON.parse(raw.toString('utf8')) as SharedAccount;
  try {
    return { keyPem: cluster.unseal(Buffer.from(record.key, 'base64')).toString('utf8'), urls: record.urls };
  } catch (err) {
    throw new Error('the shared ACME account key does not decrypt: is cluster.encryptionKey the same on every node?', { cause: err });
  }
}

/** Makes the local account files the shared account's (a no-op when they already are). */
async function install(accounts: AccountStore, shared: { keyPem: string; urls: Record<string, string> }): Promise<void> {
  const local = await accounts.key();
  if (local !== shared.keyPem) await accounts.setKey(shared.keyPem);
  for (const [directory, url] of Object.entries(shared.urls)) if ((await accounts.url(directory)) !== url) await accounts.setUrl(directory, url);
}

/**
 * Before an order in a cluster: the account is created once (under lease `account`, by whichever node orders
 * first) and every node orders with it, so a CA sees one account and its rate limits count once.
 */
export async function useSharedAccount(cluster: ClusterService, accounts: AccountStore, acme: AcmeService, signal: AbortSignal): Promise<void> {
  const directory = acme.config.directory;
  const shared = await readShared(cluster);
  if (shared?.urls[directory]) return install(accounts, shared);
  const taken = await cluster.acquire(ACCOUNT_LEASE);
  if (!('lease' in taken)) throw new Error(`the shared ACME account is being registered by node ${taken.holder?.node ?? 'unknown'}: ordering at the next check`);
  const { lease } = taken;
  try {
    const again = await readShared(cluster);
    if (again) await install(accounts, again);
    const url = await acme.ensureAccount(AbortSignal.any([signal, lease.signal]));
    const keyPem = await accounts.key();
    const record: SharedAccount = { key: cluster.seal(Buffer.from(keyPem, 'utf8')).toString('base64'), urls: { ...again?.urls, [directory]: url } };
    lease.check();
    await cluster.write(ACCOUNT_KEY, JSON.stringify(record), lease);
  } finally {
    await lease.release().catch(() => undefined);
  }
}
