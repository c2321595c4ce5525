import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { chown, lstat, mkdir, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAcmeProxy, type AcmeProxy } from '../../harness/acme-proxy.js';
import { requireBinaries } from '../../harness/deps.js';
import { renderServerBlock, startNginx, type NginxServer } from '../../harness/nginx.js';
import { startPebble, type PebbleServer } from '../../harness/pebble.js';
import { runCommand } from '../../harness/process.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { runCli } from '../../../src/agent/cli/index.js';
import { loadConfig } from '../../../src/agent/config/load.js';
import { certificates } from '../../../src/modules/certificates/index.js';
import { ariCertId } from '../../../src/modules/certificates/ari.js';
import { servedSerial, verifyServed } from '../../../src/modules/certificates/deploy.js';
import type { CertificatesConfig } from '../../../src/modules/certificates/config.js';
import { configFor, createManager } from './fixtures.js';

/**
 * A real certbot (Debian's) gets two lineages from pebble through the ARI proxy with --webroot into a test
 * config dir; `caretaker adopt certbot` takes one over, the daemon's module renews it with certbot's
 * account into the same live/ paths, and certbot still renews the other one and leaves the adopted one alone.
 */
let pebble: PebbleServer;
let proxy: AcmeProxy;
let tmp: TempDir;
let webrootNginx: NginxServer;
let le: string;
let webroot: string;
const { certbot } = requireBinaries(['certbot']);
/** The service user stand-in: not root, so an ownership left to root shows. */
const NOBODY = 65534;

async function runCertbot(args: string[]): Promise<string> {
  return runCommand(certbot, [...args, '--config-dir', le, '--work-dir', path.join(tmp.path, 'cb-work'), '--logs-dir', path.join(tmp.path, 'cb-logs'), '--non-interactive'], {
    env: { ...process.env, REQUESTS_CA_BUNDLE: proxy.ca },
    timeoutMs: 120_000,
  });
}

async function issue(name: string, domains: string[], extra: string[] = []): Promise<void> {
  await runCertbot(['certonly', '--agree-tos', '--register-unsafely-without-email', '--server', proxy.directoryUrl, '--webroot', '-w', webroot, ...domains.flatMap((d) => ['-d', d]), '--cert-name', name, ...extra]);
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, [certificates], { out: (t) => out.push(t), err: (t) => err.push(t), env: {} });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Every path under `roots` with its mode, link target or content hash: what "changes no byte" compares. */
async function snapshot(roots: string[]): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const info = await lstat(p);
    if (info.isSymbolicLink()) lines.push(`${p} -> ${await readlink(p)}`);
    else if (info.isDirectory()) {
      lines.push(`${p}/ ${info.mode.toString(8)} ${info.uid}`);
      for (const entry of (await readdir(p)).sort()) await walk(path.join(p, entry));
    } else lines.push(`${p} ${info.mode.toString(8)} ${info.uid} ${createHash('sha256').update(await readFile(p)).digest('hex')}`);
  };
  for (const root of roots) await walk(root);
  return lines;
}

before(async () => {
  pebble = await startPebble();
  proxy = await startAcmeProxy({ upstreamDirectoryUrl: pebble.directoryUrl, upstreamCa: pebble.ca });
  tmp = await makeTempDir('certs-adopt');
  le = path.join(tmp.path, 'letsencrypt');
  webroot = path.join(tmp.path, 'www');
  await mkdir(webroot, { recursive: true });
  webrootNginx = await startNginx({ serverBlocks: renderServerBlock(pebble.httpPort, { root: webroot }) });
});

after(async () => {
  await webrootNginx?.stop();
  await proxy?.stop();
  await pebble?.stop();
  await tmp?.cleanup();
});

describe('caretaker adopt certbot', () => {
  let config: string;
  let state: string;
  let hookMark: string;

  before(async () => {
    hookMark = path.join(tmp.path, 'deployed-by-certbot-hook');
    await issue('shop', ['shop.example.com', 'www.shop.example.com'], ['--deploy-hook', `touch ${hookMark}`]);
    await issue('other', ['other.example.com']);
    state = path.join(tmp.path, 'state');
    config = path.join(tmp.path, 'caretaker.yaml');
    await writeFile(
      config,
      `# the operator's own comment stays\nagent: { stateDir: ${state} }\nadmin: { listen: "127.0.0.1:0" }\ncertificates:\n  acme: { directory: ${proxy.directoryUrl}, email: ops@example.com, caBundle: ${proxy.ca} }\n`,
    );
  });

  test('without --write it prints the section and changes nothing; --dry-run says what it would change and changes no byte', async () => {
    const before = await snapshot([le, config, tmp.path + '/www']);
    const printed = await cli(['adopt', 'certbot', 'shop', '--dir', le, '--config', config]);
    assert.equal(printed.code, 0, printed.err);
    assert.match(printed.out, /^certificates:\n {2}dir: .*letsencrypt\n/);
    assert.match(printed.out, /- name: shop\n {6}domains:\n {8}- shop\.example\.com\n {8}- www\.shop\.example\.com\n {6}challenge:\n {8}type: http-01\n {8}webroot: .*\/www\n {6}keyType: ecdsa-p256\n {6}deploy:\n {8}command: touch .*deployed-by-certbot-hook/);
    assert.match(printed.err, /run again with --write/);
    const dry = await cli(['adopt', 'certbot', 'shop', '--dir', le, '--config', config, '--write', '--dry-run']);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.err, /^would merge shop into /m);
    assert.match(dry.err, /^would hand .*live\/shop .* and take shop from certbot/m);
    assert.deepEqual(await snapshot([le, config, tmp.path + '/www']), before);
    await assert.rejects(stat(state), { code: 'ENOENT' });
  });

  test('--write: config merged (backup kept), account imported, certbot no longer renews it; the module renews it with the same account, with replaces, into the same live/ paths', async () => {
    const certbotCert = new X509Certificate(await readFile(path.join(le, 'live', 'shop', 'cert.pem')));
    const tls = await startNginx({ sites: [{ root: webroot, ssl: { cert: path.join(le, 'live', 'shop', 'fullchain.pem'), key: path.join(le, 'live', 'shop', 'privkey.pem') } }] });
    try {
      const target = `127.0.0.1:${tls.ports[0]}`;
      assert.equal(await servedSerial(target, 'shop.example.com'), certbotCert.serialNumber);

      // Before: the module configured for the lineage by hand, certbot's cron still there — two owners.
      const cron = path.join(tmp.path, 'cron.d-certbot');
      await writeFile(cron, '0 */12 * * * root certbot -q renew\n');
      const byHand = await createManager(
        configFor(proxy.directoryUrl, proxy.ca, le, [{ name: 'shop', domains: ['shop.example.com', 'www.shop.example.com'], challenge: { type: 'http-01', webroot } }]),
        { certbotSchedules: [cron] },
      );
      try {
        await byHand.manager.start();
        assert.deepEqual(byHand.tc.conflicts.counts(), [['certificates', 'certbot', 1]]);
        assert.match(byHand.tc.conflicts.list()[0]!.detail, /^certbot still renews shop \(.*renewal\/shop\.conf, run by .*cron\.d-certbot\)$/);
        assert.equal(byHand.tc.conflicts.list()[0]!.fix, `caretaker adopt certbot shop --dir ${le} --write`);
      } finally {
        await byHand.dispose();
      }

      // The daemon's user owns the agent's state dir (install.sh makes it so); adopt runs as root.
      await mkdir(state, { mode: 0o700 });
      await chown(state, NOBODY, NOBODY);
      const adopted = await cli(['adopt', 'certbot', 'shop', '--dir', le, '--config', config, '--write']);
      assert.equal(adopted.code, 0, adopted.err);
      const merged = await readFile(config, 'utf8');
      assert.match(merged, /^# the operator's own comment stays$/m);
      assert.match(merged, /caBundle: /, 'the existing acme block is kept');
      assert.ok((await readdir(tmp.path)).some((f) => /^caretaker\.yaml\.bak-\d{8}T\d{6}Z$/.test(f)), 'the old config is kept');
      const renewal = await readdir(path.join(le, 'renewal'));
      assert.deepEqual(renewal.sort(), ['other.conf', 'shop.conf.adopted-by-caretaker', 'shop.conf.pre-caretaker']);
      assert.match(await readFile(path.join(le, 'renewal', 'shop.conf.adopted-by-caretaker'), 'utf8'), /^\[renewalparams\]\nautorenew = False$/m);

      const regr = JSON.parse(await readFile(path.join((await findAccountDir(le))!, 'regr.json'), 'utf8')) as { uri: string };
      const stateDir = path.join(state, 'certificates');
      assert.equal(((await stat(path.join(stateDir, 'account.key'))).mode & 0o777), 0o600);
      // What the service user must own to renew in place: the account, live/ and the lineage's archive.
      for (const owned of [path.join(stateDir, 'account.key'), path.join(stateDir, 'accounts.json'), path.join(le, 'live'), path.join(le, 'archive'), path.join(le, 'live', 'shop'), path.join(le, 'archive', 'shop', 'privkey1.pem')]) {
        assert.equal((await stat(owned)).uid, NOBODY, `${owned} belongs to the service user`);
      }
      assert.equal((await lstat(path.join(le, 'live', 'shop', 'privkey.pem'))).uid, NOBODY);
      assert.equal((await stat(path.join(le, 'archive', 'other', 'privkey1.pem'))).uid, 0, 'a lineage left to certbot stays root\u2019s');
      assert.equal((JSON.parse(await readFile(path.join(stateDir, 'accounts.json'), 'utf8')) as Record<string, string>)[proxy.directoryUrl], regr.uri);

      const loaded = await loadConfig(config, { modules: [certificates] });
      const section = loaded.sections.get('certificates') as CertificatesConfig;
      const f = await createManager(section, { certbotSchedules: [cron] }, { stateDir });
      try {
        await f.manager.start();
        assert.deepEqual(f.tc.conflicts.counts(), [['certificates', 'certbot', 0]], 'no conflict once adopted');
        const orders = proxy.newOrders.length;
        const outcome = await f.manager.renew('shop');
        assert.equal(outcome.result, 'success', outcome.certificate.lastError);
        assert.equal(proxy.newOrders.length, orders + 1);
        assert.equal(proxy.newOrders.at(-1)!.replaces, ariCertId(certbotCert), "the order replaces certbot's certificate (ARI)");
        assert.equal(proxy.newOrderAccounts.at(-1), regr.uri, "signed as certbot's account: no new registration");
        await stat(hookMark);
        await runCommand('sh', ['-c', tls.reloadCommand]);
        // nginx serves the renewed certificate from the paths its config always had.
        await verifyServed(target, 'shop.example.com', outcome.certificate.serial!, AbortSignal.timeout(15_000));
      } finally {
        await f.dispose();
      }

      // certbot's own renewal, forced (the timer's path, not --dry-run): the other lineage renews, the adopted one is left alone.
      const liveBefore = await readlink(path.join(le, 'live', 'shop'));
      await runCertbot(['renew', '--force-renewal', '--no-random-sleep-on-renew']);
      assert.ok((await readdir(path.join(le, 'archive', 'other'))).includes('cert2.pem'), 'certbot still renews what was not adopted');
      assert.equal(await readlink(path.join(le, 'live', 'shop')), liveBefore, 'and does not touch the adopted lineage');
      assert.ok(!(await readdir(path.join(le, 'archive', 'shop'))).includes('cert2.pem'));
    } finally {
      await tls.stop();
    }
  });
});

async function findAccountDir(dir: string): Promise<string | undefined> {
  const accounts = path.join(dir, 'accounts');
  const walk = async (p: string): Promise<string | undefined> => {
    const entries = await readdir(p);
    if (entries.includes('regr.json')) return p;
    for (const entry of entries) {
      const sub = path.join(p, entry);
      if ((await lstat(sub)).isDirectory()) {
        const found = await walk(sub);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(accounts);
}

describe('adopt certbot refuses bad input with the file and line, and changes nothing', () => {
  let dir: string;
  let config: string;

  before(async () => {
    dir = path.join(tmp.path, 'bad');
    await rm(dir, { recursive: true, force: true });
    await mkdir(path.join(dir, 'renewal'), { recursive: true });
    config = path.join(tmp.path, 'bad.yaml');
    await writeFile(config, `agent: { stateDir: ${path.join(tmp.path, 'bad-state')} }\nadmin: { listen: "127.0.0.1:0" }\n`);
  });

  const renewalConf = (extra: string) => `version = 2.1.0\narchive_dir = ${dir}/archive/x\ncert = ${dir}/live/x/cert.pem\n\n[renewalparams]\naccount = abc\nserver = https://127.0.0.1:1/dir\nauthenticator = webroot\nwebroot_path = /var/www/certbot,\n${extra}`;

  test('a corrupt renewal file', async () => {
    await writeFile(path.join(dir, 'renewal', 'x.conf'), renewalConf('this line is not configobj\n'));
    const before = await snapshot([dir, config]);
    const result = await cli(['adopt', 'certbot', 'x', '--dir', dir, '--config', config, '--write']);
    assert.notEqual(result.code, 0);
    assert.match(result.err, /renewal\/x\.conf:10: expected 'key = value' or a \[section\], found 'this line is not configobj'/);
    assert.deepEqual(await snapshot([dir, config]), before);
  });

  test('a lineage whose account is missing, and an account key of an unknown type', async () => {
    // The live certificate of a real lineage, so only the account is wrong.
    await mkdir(path.join(dir, 'live'), { recursive: true });
    await runCommand('cp', ['-rL', path.join(le, 'live', 'other'), path.join(dir, 'live', 'x')]);
    await writeFile(path.join(dir, 'renewal', 'x.conf'), renewalConf(''));
    const untouched = await snapshot([dir, config]);
    const missing = await cli(['adopt', 'certbot', 'x', '--dir', dir, '--config', config, '--write', '--email', 'ops@example.com']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.err, /the lineage's account abc is missing: .*accounts\/127\.0\.0\.1:1\/dir\/abc\/private_key\.json does not exist/);
    assert.deepEqual(await snapshot([dir, config]), untouched);
    const account = path.join(dir, 'accounts', '127.0.0.1:1', 'dir', 'abc');
    await mkdir(account, { recursive: true });
    await writeFile(path.join(account, 'private_key.json'), JSON.stringify({ kty: 'oct', k: 'c2VjcmV0' }));
    await writeFile(path.join(account, 'regr.json'), JSON.stringify({ body: {}, uri: 'https://127.0.0.1:1/acct/1' }));
    const after1 = await snapshot([dir, config]);
    const oct = await cli(['adopt', 'certbot', 'x', '--dir', dir, '--config', config, '--write', '--email', 'ops@example.com']);
    assert.notEqual(oct.code, 0);
    assert.match(oct.err, /private_key\.json: a key of type 'oct' \(expected RSA or EC\)/);
    assert.doesNotMatch(oct.err, /c2VjcmV0/);
    assert.deepEqual(await snapshot([dir, config]), after1);
  });

  test('an authenticator without an equivalent is named and the lineage left to certbot', async () => {
    await writeFile(path.join(dir, 'renewal', 'x.conf'), renewalConf('').replace('authenticator = webroot', 'authenticator = nginx'));
    const result = await cli(['adopt', 'certbot', 'x', '--dir', dir, '--config', config]);
    assert.equal(result.code, 1);
    assert.match(result.err, /^x: left to certbot: authenticator 'nginx' has no caretaker equivalent/m);
  });
});
