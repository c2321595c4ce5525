import { copyFile, chown, lchown, lstat, mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Document, isMap, isSeq, parseDocument, type YAMLMap } from 'yaml';
import { fsyncDir, writeFileAtomic } from '../../../agent/kit/atomic-file.js';
import { AccountStore } from '../account.js';
import { setInSection } from './configobj.js';
import type { CertbotAccount, CertConfigInput, Lineage } from './certbot.js';

/**
 * The writes of `caretaker adopt certbot --write`, each atomic and each with the old file kept: the
 * certificates section merged into caretaker.yaml, certbot's account handed to the daemon's state dir,
 * the lineages' files given to the service user, and certbot told to leave the lineages alone.
 */

/** Where certbot's renewal file goes: certbot reads only renewal/*.conf, so `renew --force-renewal` skips it too. */
export const ADOPTED_SUFFIX = '.adopted-by-caretaker';

export interface SectionInput {
  dir: string;
  acme: { directory: string; email: string };
  certs: CertConfigInput[];
}

/** The YAML text of the config with the certificates merged in; certs already named there are kept as they are. */
export function mergeIntoConfig(text: string, section: SectionInput): { text: string; added: string[]; kept: string[] } {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`the config is not valid YAML: ${doc.errors[0]!.message}`);
  const existing = doc.get('certificates');
  if (existing === undefined || existing === null) {
    doc.set('certificates', doc.createNode(section));
    return { text: doc.toString(), added: section.certs.map((c) => c.name), kept: [] };
  }
  if (!isMap(existing)) throw new Error('the config has a certificates key that is not a mapping');
  const directory = (existing as YAMLMap).getIn(['acme', 'directory']);
  if (directory !== undefined && directory !== section.acme.directory) {
    throw new Error(`the config's certificates.acme.directory is ${String(directory)}, the lineages renew against ${section.acme.directory}: adopt them into a config for that CA`);
  }
  const dir = (existing as YAMLMap).get('dir');
  if (dir !== undefined && dir !== section.dir) throw new Error(`the config's certificates.dir is ${String(dir)}, the lineages live in ${section.dir}`);
  if (dir === undefined) (existing as YAMLMap).set('dir', section.dir);
  if ((existing as YAMLMap).get('acme') === undefined) (existing as YAMLMap).set('acme', doc.createNode(section.acme));
  let certs = (existing as YAMLMap).get('certs');
  if (certs === undefined || certs === null) {
    certs = doc.createNode([]);
    (existing as YAMLMap).set('certs', certs);
  }
  if (!isSeq(certs)) throw new Error('the config has certificates.certs that is not a list');
  const names = new Set(certs.items.map((item) => (isMap(item) ? String(item.get('name')) : '')));
  const added: string[] = [];
  const kept: string[] = [];
  for (const cert of section.certs) {
    if (names.has(cert.name)) kept.push(cert.name);
    else {
      certs.add(doc.createNode(cert));
      added.push(cert.name);
    }
  }
  return { text: doc.toString(), added, kept };
}

/** The section alone, as `adopt certbot` prints it. */
export function sectionYaml(section: SectionInput): string {
  return new Document({ certificates: section }).toString();
}

function stamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** Replaces the config file atomically with the same mode and owner, the old one kept beside it. */
export async function writeConfig(path: string, text: string, now: Date): Promise<string> {
  const info = await stat(path);
  const backup = `${path}.bak-${stamp(now)}`;
  await copyFile(path, backup);
  await chown(backup, info.uid, info.gid);
  await writeFileAtomic(path, text, { mode: info.mode & 0o777 });
  await chown(path, info.uid, info.gid);
  return backup;
}

/** Who the daemon runs as: the owner of the agent's state dir (install.sh makes it the service user's), or of its nearest existing parent. */
export async function serviceOwner(stateDir: string): Promise<{ uid: number; gid: number }> {
  for (let dir = dirname(stateDir); ; dir = dirname(dir)) {
    const info = await stat(dir).catch(() => undefined);
    if (info) return { uid: info.uid, gid: info.gid };
    if (dir === dirname(dir)) throw new Error(`no directory above ${stateDir} exists`);
  }
}

/** Refuses, before anything is written, to replace an account key of caretaker's own (other directories' orders use it). */
export async function checkAccountImport(stateDir: string, account: CertbotAccount, replace: boolean): Promise<void> {
  const { keyPath } = new AccountStore(stateDir);
  const current = await readFile(keyPath, 'utf8').catch(() => undefined);
  if (current !== undefined && current !== account.keyPem && !replace) {
    throw new Error(`caretaker already has an ACME account key (${keyPath}); adopting certbot's account would replace it for every directory: pass --replace-account if that is what you want`);
  }
}

/** Puts certbot's account key and URL where the daemon's AccountStore reads them (after checkAccountImport). */
export async function importAccount(stateDir: string, directory: string, account: CertbotAccount, owner: { uid: number; gid: number }): Promise<void> {
  for (const dir of [dirname(stateDir), stateDir]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chown(dir, owner.uid, owner.gid);
  }
  const store = new AccountStore(stateDir);
  await writeFileAtomic(store.keyPath, account.keyPem, { mode: 0o600 });
  await store.setUrl(directory, account.url);
  for (const path of [store.keyPath, store.urlsPath]) await chown(path, owner.uid, owner.gid);
}

/** The service user must write live/ and archive/<name>/ and read the key; certbot (root) still can. */
export async function handOverLineage(dir: string, name: string, owner: { uid: number; gid: number }): Promise<void> {
  for (const top of ['live', 'archive']) await chown(join(dir, top), owner.uid, owner.gid);
  const live = join(dir, 'live', name);
  await chown(live, owner.uid, owner.gid);
  for (const entry of await readdir(live)) await lchown(join(live, entry), owner.uid, owner.gid);
  const archive = join(dir, 'archive', name);
  await chown(archive, owner.uid, owner.gid);
  for (const entry of await readdir(archive)) {
    const path = join(archive, entry);
    if (!(await lstat(path)).isDirectory()) await chown(path, owner.uid, owner.gid);
  }
}

/**
 * Takes the lineage from certbot: `autorenew = False` in its renewal file (so even a restored copy is
 * skipped by the timer), moved to a name certbot does not read (`renew --force-renewal` ignores
 * autorenew), with the untouched original kept as `<name>.conf.pre-caretaker`.
 */
export async function retireFromCertbot(lineage: Lineage): Promise<string> {
  const original = await readFile(lineage.confPath, 'utf8');
  const info = await stat(lineage.confPath);
  const backup = `${lineage.confPath}.pre-caretaker`;
  await writeFileAtomic(backup, original, { mode: info.mode & 0o777 });
  const adopted = `${lineage.confPath}${ADOPTED_SUFFIX}`;
  await writeFileAtomic(adopted, setInSection(original, 'renewalparams', 'autorenew', 'False'), { mode: info.mode & 0o777 });
  await unlink(lineage.confPath);
  await fsyncDir(dirname(lineage.confPath));
  return adopted;
}
