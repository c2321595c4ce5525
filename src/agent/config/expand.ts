import { join } from 'node:path';
import { readSmallFile, SmallFileError } from './read-small-file.js';

export type PathSegment = string | number;

export interface ExpandResult {
  value: unknown;
  /** Every value that came from a reference: treated as secret and scrubbed from logs. */
  secrets: string[];
  /** Each string that held a reference, as expanded and as written, so messages can quote what was written. */
  expansions: Array<{ value: string; source: string }>;
  issues: Array<{ path: PathSegment[]; message: string }>;
}

export interface ExpandEnvironment {
  env: NodeJS.ProcessEnv;
  /** systemd's `$CREDENTIALS_DIRECTORY` (from `LoadCredential=`), or the CLI's `--credentials-dir`. */
  credentialsDirectory?: string | undefined;
  /**
   * Where `${credential:NAME}` is looked for without a credentials directory: the CLI run from a root
   * shell reads the store that `LoadCredential=NAME` copies from. The daemon has none, so a credential
   * its unit does not load is an error there and not a silent read from another place.
   */
  credentialStores?: readonly string[];
}

/** systemd's search path for `LoadCredential=NAME` without a path (CONF_PATHS("credstore"), in its order). */
export const SYSTEMD_CREDENTIAL_STORES = ['/etc/credstore', '/run/credstore', '/usr/local/lib/credstore', '/usr/lib/credstore'] as const;

const PROVIDERS = ['env', 'file', 'credential'];

/** systemd's own bound on a credential (CREDENTIAL_SIZE_MAX); a secret file gets the same. */
const MAX_SECRET_BYTES = 1024 * 1024;

function readValue(path: string): Promise<string> {
  return readSmallFile(path, MAX_SECRET_BYTES).then((text) => text.replace(/\r?\n$/, ''));
}

/** ENOENT for a missing file; the whole reason for one that is not a small regular file. */
function why(err: unknown): string {
  return err instanceof SmallFileError ? err.message : ((err as NodeJS.ErrnoException).code ?? String(err));
}

async function readCredential(name: string, environment: ExpandEnvironment): Promise<string> {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) throw new Error(`'${name}' is not a valid credential name`);
  const dir = environment.credentialsDirectory;
  if (dir) {
    try {
      return await readValue(join(dir, name));
    } catch (err) {
      throw new Error(`cannot read credential ${name} from ${dir}: ${why(err)}`);
    }
  }
  const stores = environment.credentialStores ?? [];
  if (stores.length === 0) {
    throw new Error(`\${credential:${name}} needs systemd's LoadCredential=${name} (CREDENTIALS_DIRECTORY is not set)`);
  }
  for (const store of stores) {
    const path = join(store, name);
    try {
      return await readValue(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      const fix = code === 'EACCES' ? ' (run the command as root, e.g. with sudo)' : '';
      throw new Error(`cannot read credential ${name} at ${path}: ${why(err)}${fix}`);
    }
  }
  throw new Error(
    `credential ${name} not found: looked in ${stores.join(', ')} (where systemd's LoadCredential= finds it); ` +
      `create ${join(stores[0]!, name)} (mode 0600), or pass --credentials-dir DIR`,
  );
}

async function resolve(kind: string, arg: string, environment: ExpandEnvironment): Promise<string> {
  switch (kind) {
    case 'env': {
      const value = environment.env[arg];
      if (value === undefined) throw new Error(`environment variable ${arg} is not set (from \${env:${arg}})`);
      return value;
    }
    case 'file': {
      if (!arg.startsWith('/')) throw new Error(`\${file:${arg}} needs an absolute path`);
      try {
        return await readValue(arg);
      } catch (err) {
        throw new Error(`cannot read ${arg} (from \${file:${arg}}): ${why(err)}`);
      }
    }
    default:
      return readCredential(arg, environment);
  }
}

/**
 * Every `${` starts a reference or is written `$${`: a typo such as `${env:X` or `${vault:…}` is an
 * error, not a literal that would become (say) an admin token.
 */
async function expandString(text: string, environment: ExpandEnvironment, secrets: string[]): Promise<string> {
  const parts: string[] = [];
  let last = 0;
  for (let at = text.indexOf('${'); at !== -1; at = text.indexOf('${', last)) {
    if (at > 0 && text[at - 1] === '$') {
      parts.push(text.slice(last, at - 1), '${');
      last = at + 2;
      continue;
    }
    parts.push(text.slice(last, at));
    const end = text.indexOf('}', at);
    if (end === -1) throw new Error(`unterminated reference '${text.slice(at, at + 40)}' (missing '}'; write $\${ for a literal \${)`);
    const reference = text.slice(at + 2, end);
    const colon = reference.indexOf(':');
    const kind = colon === -1 ? '' : reference.slice(0, colon);
    if (!PROVIDERS.includes(kind)) {
      throw new Error(`unknown reference '\${${reference.slice(0, 40)}}': use \${env:NAME}, \${file:/path} or \${credential:NAME} (write $\${ for a literal \${)`);
    }
    const value = await resolve(kind, reference.slice(colon + 1), environment);
    secrets.push(value);
    parts.push(value);
    last = end + 1;
  }
  parts.push(text.slice(last));
  return parts.join('');
}

/** Replaces `${env:NAME}`, `${file:/path}` and `${credential:NAME}` in every string of a parsed document; `$${` is a literal `${`. */
export async function expandReferences(document: unknown, environment: ExpandEnvironment): Promise<ExpandResult> {
  const secrets: string[] = [];
  const expansions: ExpandResult['expansions'] = [];
  const issues: ExpandResult['issues'] = [];
  async function walk(value: unknown, path: PathSegment[]): Promise<unknown> {
    if (typeof value === 'string') {
      if (!value.includes('${')) return value;
      try {
        const expanded = await expandString(value, environment, secrets);
        if (expanded !== value.replaceAll('$${', '${')) expansions.push({ value: expanded, source: value });
        return expanded;
      } catch (err) {
        issues.push({ path, message: (err as Error).message });
        return value;
      }
    }
    if (Array.isArray(value)) return Promise.all(value.map((item, i) => walk(item, [...path, i])));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = await walk(item, [...path, key]);
      return out;
    }
    return value;
  }
  const value = await walk(document, []);
  return { value, secrets, expansions, issues };
}
