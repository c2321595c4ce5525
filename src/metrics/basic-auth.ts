import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';

const CACHE_LIMIT = 64;
// Compared against when the user is unknown, so an unknown name costs as long as a wrong password.
const DUMMY_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DSmV4bV8D4lHkN6SSkHLe';

/**
 * Checks `Authorization: Basic …` against bcrypt hashes. bcrypt is deliberately slow (~50-100 ms at cost
 * 10), far too slow to run on every scrape, so a successful check is remembered (as a SHA-256 of
 * user, password and hash, never the password) like exporter-toolkit does; failures are always re-checked.
 */
export function createBasicAuth(
  users: Record<string, string>,
  compare: (password: string, hash: string) => Promise<boolean> = bcrypt.compare,
): (authorization: string | undefined) => Promise<boolean> {
  const verified = new Set<string>();
  return async (authorization) => {
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(authorization?.trim() ?? '');
    if (!match) return false;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = Object.hasOwn(users, user) ? users[user]! : undefined;
    const key = createHash('sha256').update(`${user}\0${password}\0${hash ?? ''}`).digest('base64');
    if (hash && verified.has(key)) return true;
    const ok = await compare(password, hash ?? DUMMY_HASH);
    if (!ok || !hash) return false;
    if (verified.size >= CACHE_LIMIT) verified.clear();
    verified.add(key);
    return true;
  };
}
