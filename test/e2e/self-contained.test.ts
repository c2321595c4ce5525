// caretaker-test: run-alone (it boots a container and rebuilds dist/ through install.sh --package --with-node)
// The self-contained release of issue 23 on a server with no Node.js at all: the tarball of
// `install.sh --package --with-node` (carrying this machine's node as bin/node), unpacked and installed
// the way docs/install.md says in a container whose Debian nodejs package is purged first.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Container, RunResult } from './container.js';
import { bootWithRelease, repoRoot, type Release } from './release.js';

const UNIT = 'caretaker.service';
const CONFIG = '/etc/caretaker/caretaker.yaml';
const SHIPPED = '/opt/caretaker/bin/node';
/** The runtime the tarball carries: the node running this test. */
const VERSION = process.versions.node;

describe('the self-contained release on a server without Node.js (issue 23)', { timeout: 10 * 60_000 }, () => {
  let ct: Container;
  let release: Release;

  const output = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  const mainPid = async () => (await ct.show(UNIT, ['MainPID'])).MainPID;
  // No node in the container to fetch with: curl, as a health script would.
  const status = async () => JSON.parse(await ct.ok('curl -sS --max-time 10 http://127.0.0.1:9470/status')) as { node: string; lastReload?: { ok: boolean } };

  before(async () => {
    ({ ct, release } = await bootWithRelease(`caretaker-sc-${process.pid}`, [], { hostNode: false, withNode: process.execPath }));
  }, { timeout: 35 * 60_000 });

  after(async () => {
    await ct?.stop();
    await release?.dir.cleanup();
  });

  test('the tarball is named for the node it carries; the server has no node once nodejs is purged', async () => {
    const { version } = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(release.tarball, `caretaker-${version}-node${VERSION.split('.')[0]}-linux-${process.arch}.tar.gz`);
    assert.match(await ct.ok('node --version'), /^v18\./, 'booted with Debian\'s own nodejs, not the host\'s');
    // apt, not dpkg: node-acorn depends on nodejs, and libnode108 goes with --autoremove.
    await ct.ok('DEBIAN_FRONTEND=noninteractive apt-get purge -y -q --autoremove nodejs >/dev/null', 120_000);
    const which = await ct.sh('command -v node || command -v nodejs');
    assert.notEqual(which.code, 0, output(which));
    assert.equal(await ct.ok("dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' 'nodejs' 'libnode*' 2>/dev/null | grep -c ' ii' || true"), '0');
  });

  test('./install.sh installs with the shipped runtime, says so, and the unit runs on it', async () => {
    const out = await ct.ok(`cd /root && tar -xzf /mnt/release/${release.tarball} && cd ${release.unpacked} && ./install.sh`, 120_000);
    assert.match(out, new RegExp(`^node: ${SHIPPED} v${VERSION.replaceAll('.', '\\.')} \\(shipped in this release\\)$`, 'm'), out);
    assert.match(out, /is running as caretaker\.service/);
    const p = await ct.show(UNIT, ['ActiveState', 'SubState']);
    assert.deepEqual([p.ActiveState, p.SubState], ['active', 'running']);
    assert.equal(await ct.ok(`readlink /proc/${await mainPid()}/exe`), SHIPPED);
    assert.equal(await ct.ok(`cmp ${release.unpacked}/bin/node ${SHIPPED} && stat -c '%a %U' ${SHIPPED}`), '755 root');
    assert.match(await ct.ok('cat /usr/local/bin/caretaker'), new RegExp(`^exec ${SHIPPED} /opt/caretaker/dist/caretaker\\.mjs "\\$@"$`, 'm'));
  });

  test('caretaker version and caretaker status run on the shipped runtime and report its version', async () => {
    assert.match(await ct.ok('caretaker version'), new RegExp(`^caretaker \\S+ \\(node ${VERSION.replaceAll('.', '\\.')}\\)$`));
    const text = await ct.sh('caretaker status');
    assert.equal(text.code, 0, output(text));
    assert.equal((await status()).node, VERSION);
  });

  test('systemctl reload applies a changed config in the same process', async () => {
    const pid = await mainPid();
    await ct.ok(`printf '%s\\n' 'probes:' '  - { name: self, type: http, url: "http://127.0.0.1:9470/health", interval: 1s }' >> ${CONFIG} && caretaker check-config`);
    const reload = await ct.sh(`systemctl reload ${UNIT}`, 60_000);
    assert.equal(reload.code, 0, output(reload));
    await ct.waitFor('the new probe up', async () => {
      const probe = JSON.parse(await ct.ok('curl -sS --max-time 10 http://127.0.0.1:9470/probes/self')) as { status: string };
      return probe.status === 'up' ? true : undefined;
    }, 20_000);
    assert.match(await ct.ok('caretaker probes'), /^self\s/m);
    assert.equal(await mainPid(), pid);
    assert.equal((await status()).lastReload?.ok, true);
  });

  test('--uninstall removes the shipped runtime with the program', async () => {
    await ct.ok(`cd ${release.unpacked} && ./install.sh --uninstall`, 60_000);
    assert.equal(await ct.ok(`ls -d ${SHIPPED} /opt/caretaker /usr/local/bin/caretaker 2>/dev/null | wc -l`), '0');
    assert.equal((await ct.show(UNIT, ['LoadState'])).LoadState, 'not-found');
  });
});
