import { createPrivateKey, X509Certificate, type JsonWebKey } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertConfig, KeyType } from '../config.js';
import { keyTypeOf } from '../keys.js';
import { bool, list, parseConfigObj, scalar, type ConfigObjSection } from './configobj.js';

/**
 * What `caretaker adopt certbot` reads of a certbot install: each lineage's renewal/<name>.conf, the
 * certificate live/<name>/ serves, and the ACME account the lineage renews with.
 */

/** A lineage certbot renews: renewal/<name>.conf, the file certbot's timer reads. */
export interface Lineage {
  name: string;
  confPath: string;
  conf: ConfigObjSection;
  /** The ACME directory it renews against (`server`). */
  server: string;
  /** certbot's id of the account (`account`). */
  accountId: string | undefined;
  /** `autorenew` unset or true: certbot's timer still renews it. */
  autorenew: boolean;
}

export interface CertbotAccount {
  /** PKCS#8 PEM of the account key (certbot keeps a JWK). */
  keyPem: string;
  /** The account URL the CA gave at registration (regr.json `uri`). */
  url: string;
  /** The contact from the registration, when certbot kept it. */
  email: string | undefined;
}

/** One lineage's outcome: the certificate entry to add, or why it is left to certbot. */
export type LineagePlan = { name: string; lineage: Lineage; cert: CertConfigInput; notes: string[] } | { name: string; lineage: Lineage; skipped: string };

/** The config entry as it is written into caretaker.yaml (defaults left out). */
export type CertConfigInput = Pick<CertConfig, 'name' | 'domains'> & {
  challenge: { type: 'http-01'; webroot: string } | { type: 'http-01'; standalone: { address: string; port: number } };
  keyType?: KeyType;
  reuseKey?: boolean;
  profile?: string;
  deploy?: { command: string };
};

export async function lineageNames(dir: string): Promise<string[]> {
  const entries = await readdir(join(dir, 'renewal')).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new Error(`${dir}/renewal/ does not exist: no certbot lineages there (give --dir)`);
    throw err;
  });
  return entries.filter((e) => e.endsWith('.conf')).map((e) => e.slice(0, -'.conf'.length)).sort();
}

export async function readLineage(dir: string, name: string): Promise<Lineage> {
  const confPath = join(dir, 'renewal', `${name}.conf`);
  const text = await readFile(confPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `no certbot lineage '${name}': ${confPath} does not exist` : `cannot read ${confPath}: ${err.message}`);
  });
  const conf = parseConfigObj(text, confPath);
  const params = conf.sections.renewalparams;
  if (!params) throw new Error(`${confPath}: no [renewalparams] section: not a certbot renewal file`);
  const server = scalar(params, 'server');
  if (!server) throw new Error(`${confPath}: [renewalparams] has no server`);
  return { name, confPath, conf, server, accountId: scalar(params, 'account'), autorenew: bool(params, 'autorenew') !== false };
}

/** `https://acme.example/directory` → certbot's accounts/<host[:port]>/<path>/ directory. */
export function accountDir(dir: string, server: string, id: string): string {
  const url = new URL(server);
  return join(dir, 'accounts', url.host, ...url.pathname.split('/').filter(Boolean), id);
}

export async function readAccount(dir: string, server: string, id: string): Promise<CertbotAccount> {
  const where = accountDir(dir, server, id);
  const read = async (file: string): Promise<unknown> => {
    const path = join(where, file);
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new Error(err.code === 'ENOENT' ? `the lineage's account ${id} is missing: ${path} does not exist` : `cannot read ${path}: ${err.message}`);
    });
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`${path} is not JSON`);
    }
  };
  const jwk = (await read('private_key.json')) as JsonWebKey;
  if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') throw new Error(`${join(where, 'private_key.json')}: a key of type '${String(jwk.kty)}' (expected RSA or EC)`);
  let keyPem: string;
  try {
    keyPem = createPrivateKey({ key: jwk, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch (err) {
    throw new Error(`${join(where, 'private_key.json')}: not a usable private key (${(err as Error).message})`);
  }
  const regr = (await read('regr.json')) as { uri?: unknown; body?: { contact?: unknown } };
  if (typeof regr.uri !== 'string') throw new Error(`${join(where, 'regr.json')} has no account uri`);
  const contact = Array.isArray(regr.body?.contact) ? regr.body.contact.find((c): c is string => typeof c === 'string' && c.startsWith('mailto:')) : undefined;
  return { keyPem, url: regr.uri, email: contact?.slice('mailto:'.length) };
}

function challengeOf(params: ConfigObjSection): CertConfigInput['challenge'] | string {
  const authenticator = scalar(params, 'authenticator');
  if (authenticator === 'webroot') {
    const mapped = Object.values(params.sections.webroot_map?.values ?? {}).flatMap((v) => (Array.isArray(v) ? v : [v]));
    const roots = [...new Set(mapped.length > 0 ? mapped : list(params, 'webroot_path'))];
    if (roots.length === 0) return 'authenticator webroot without webroot_path or webroot_map';
    if (roots.length > 1) return `its domains use different webroots (${roots.join(', ')}); caretaker has one webroot per certificate: split the lineage with certbot first`;
    return { type: 'http-01', webroot: roots[0]! };
  }
  if (authenticator === 'standalone') {
    return { type: 'http-01', standalone: { address: scalar(params, 'http01_address') || '0.0.0.0', port: Number(scalar(params, 'http01_port') ?? 80) } };
  }
  return `authenticator '${authenticator ?? '(none)'}' has no caretaker equivalent (webroot and standalone are adopted; for DNS use a dns-01 hook by hand)`;
}

/** The SANs of the certificate live/<name>/ serves (DNS names only, in the certificate's order). */
function domainsOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4));
}

/** Maps a lineage to a certificate entry; anything certbot does that caretaker would not is a reason to skip. */
export async function planLineage(dir: string, lineage: Lineage): Promise<LineagePlan> {
  const { name } = lineage;
  const params = lineage.conf.sections.renewalparams!;
  const challenge = challengeOf(params);
  if (typeof challenge === 'string') return { name, lineage, skipped: challenge };
  const preHook = scalar(params, 'pre_hook');
  if (preHook) return { name, lineage, skipped: `pre_hook '${preHook}' has no equivalent: caretaker runs nothing before an order` };
  const live = join(dir, 'live', name);
  let cert: X509Certificate;
  let keyType: KeyType | undefined;
  try {
    cert = new X509Certificate(await readFile(join(live, 'cert.pem')));
    keyType = keyTypeOf(createPrivateKey(await readFile(join(live, 'privkey.pem'))));
  } catch (err) {
    return { name, lineage, skipped: `cannot read its live certificate and key in ${live}: ${(err as Error).message}` };
  }
  if (!keyType) return { name, lineage, skipped: `its key in ${live}/privkey.pem is of a type caretaker does not issue` };
  const domains = domainsOf(cert);
  if (domains.length === 0) return { name, lineage, skipped: `${live}/cert.pem names no DNS domain` };
  const notes: string[] = [];
  const hooks = [scalar(params, 'renew_hook'), scalar(params, 'post_hook')].filter((h): h is string => Boolean(h));
  if (scalar(params, 'post_hook')) notes.push('post_hook becomes part of deploy.command: caretaker runs it after a successful renewal only');
  const entry: CertConfigInput = { name, domains, challenge, keyType };
  if (bool(params, 'reuse_key') === true) entry.reuseKey = true;
  const profile = scalar(params, 'preferred_profile');
  if (profile) entry.profile = profile;
  if (hooks.length > 0) entry.deploy = { command: hooks.join(' && ') };
  return { name, lineage, cert: entry, notes };
}
