import assert from 'node:assert/strict';
import { lstat, mkdir, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand } from '../../harness/process.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { CertificateStore, splitChain, type CertificateSet } from '../../../src/modules/certificates/store.js';
import { liveSetMatches } from './fixtures.js';

let tmp: TempDir;
let sets: CertificateSet[];

/** A self-signed leaf plus a fake "intermediate", made with openssl (the store does not verify chains). */
async function makeSet(i: number): Promise<CertificateSet> {
  const f = (n: string) => path.join(tmp.path, `${n}${i}`);
  await runCommand('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('key'), '-out', f('cert'), '-days', '1', '-subj', `/CN=set${i}`]);
  const [keyPem, cert] = await Promise.all([readFile(f('key'), 'utf8'), readFile(f('cert'), 'utf8')]);
  return { keyPem, fullchainPem: cert + cert.replace(/\n$/, '\n') };
}

before(async () => {
  tmp = await makeTempDir('certs-store');
  sets = await Promise.all([0, 1, 2].map(makeSet));
});
after(async () => tmp?.cleanup());

describe('certificate store', () => {
  test('writes the certbot layout through one symlink, modes 0600/0644, keeps one previous version', async () => {
    const dir = path.join(tmp.path, 'a');
    const store = new CertificateStore(dir);
    assert.equal(await store.read('web'), undefined);
    assert.equal(await store.write('web', sets[0]!), 1);
    assert.equal(await store.write('web', sets[1]!), 2);
    assert.equal(await store.write('web', sets[2]!), 3);
    assert.equal(await readlink(path.join(dir, 'live', 'web')), '../archive/web/3');
    assert.deepEqual((await readdir(path.join(dir, 'archive', 'web'))).sort(), ['2', '3']);
    const live = path.join(dir, 'live', 'web');
    assert.equal((await stat(path.join(live, 'privkey.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(path.join(live, 'fullchain.pem'))).mode & 0o777, 0o644);
    const read = (await store.read('web'))!;
    assert.equal(read.version, 3);
    assert.equal(read.keyPem, sets[2]!.keyPem);
    assert.equal(splitChain(read.fullchainPem).length, 2);
    assert.equal(read.fullchainPem, read.certPem + read.chainPem);
    assert.equal((await liveSetMatches(dir, 'web')).ok, true);
  });

  test('refuses a set whose key does not match its certificate, and leaves live alone', async () => {
    const dir = path.join(tmp.path, 'b');
    const store = new CertificateStore(dir);
    await store.write('web', sets[0]!);
    await assert.rejects(store.write('web', { keyPem: sets[1]!.keyPem, fullchainPem: sets[0]!.fullchainPem }), /does not match/);
    await assert.rejects(store.write('web', { keyPem: sets[1]!.keyPem, fullchainPem: 'garbage' }), /no certificate/);
    assert.equal((await store.read('web'))!.version, 1);
  });

  test('crash leftovers (half-written version, temp link) are ignored and cleaned by the next write', async () => {
    const dir = path.join(tmp.path, 'c');
    const store = new CertificateStore(dir);
    await store.write('web', sets[0]!);
    await mkdir(path.join(dir, 'archive', 'web', '2'));
    await writeFile(path.join(dir, 'archive', 'web', '2', 'privkey.pem'), 'half');
    await symlink('../archive/web/2', path.join(dir, 'live', '.web.abcdef.tmp'));
    assert.equal((await store.read('web'))!.version, 1, 'live still on the complete set');
    assert.equal(await store.write('web', sets[1]!), 3);
    assert.deepEqual((await readdir(path.join(dir, 'archive', 'web'))).sort(), ['1', '3']);
    assert.deepEqual(await readdir(path.join(dir, 'live')), ['web']);
  });

  test('takes over a certbot live/<name>/ directory, moving it into the archive', async () => {
    const dir = path.join(tmp.path, 'd');
    const live = path.join(dir, 'live', 'web');
    await mkdir(live, { recursive: true });
    const [leaf] = splitChain(sets[0]!.fullchainPem);
    await Promise.all([
      writeFile(path.join(live, 'privkey.pem'), sets[0]!.keyPem),
      writeFile(path.join(live, 'cert.pem'), leaf!),
      writeFile(path.join(live, 'chain.pem'), ''),
      writeFile(path.join(live, 'fullchain.pem'), leaf!),
    ]);
    const store = new CertificateStore(dir);
    assert.equal((await store.read('web'))!.cert.subject, 'CN=set0', 'reads a certbot directory');
    await store.write('web', sets[1]!);
    assert.ok((await lstat(live)).isSymbolicLink());
    assert.ok((await readdir(path.join(dir, 'archive', 'web'))).some((e) => e.startsWith('certbot-live-')));
    assert.equal((await store.read('web'))!.cert.subject, 'CN=set1');
  });
});
