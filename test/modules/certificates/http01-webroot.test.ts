// The webroot solver as the installed service runs it: under the unit's UMask=0027, with the token read
// by another user (the web server's), as nginx's www-data workers read it.
import assert from 'node:assert/strict';
import { chmod, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand } from '../../harness/process.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { WebrootSolver } from '../../../src/modules/certificates/kinds/http01-webroot.js';

let tmp: TempDir;
const task = { token: 'tok_en-1', keyAuthorization: 'tok_en-1.thumbprint', domain: 'a.example.com', wildcard: false };
const modeOf = async (p: string) => ((await stat(p)).mode & 0o777).toString(8);
/** Reads a file as user nobody, the way a web server worker that is not the agent's user does. */
const readAsNobody = (file: string) => runCommand('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'cat', file]);

before(async () => {
  tmp = await makeTempDir('webroot');
  await chmod(tmp.path, 0o755);
  process.umask(0o027);
});
after(async () => tmp?.cleanup());

describe('http-01 webroot solver', () => {
  test('directories it makes are 0755 and token files 0644 under UMask=0027, readable by another user', async () => {
    const webroot = path.join(tmp.path, 'srv', 'certbot');
    const solver = new WebrootSolver(webroot);
    await solver.open();
    await solver.present(task);
    const challengeDir = path.join(webroot, '.well-known', 'acme-challenge');
    for (const dir of [path.join(tmp.path, 'srv'), webroot, path.dirname(challengeDir), challengeDir]) assert.equal(await modeOf(dir), '755', dir);
    assert.equal(await modeOf(path.join(challengeDir, task.token)), '644');
    assert.equal(await readAsNobody(path.join(challengeDir, task.token)), task.keyAuthorization);
    await solver.remove(task);
    await solver.close();
  });

  test('challenge directories left 0750 by an earlier version are opened up; a webroot the admin made keeps its mode', async () => {
    const webroot = path.join(tmp.path, 'existing');
    await mkdir(path.join(webroot, '.well-known', 'acme-challenge'), { recursive: true });
    await chmod(webroot, 0o711);
    await chmod(path.join(webroot, '.well-known'), 0o750);
    await chmod(path.join(webroot, '.well-known', 'acme-challenge'), 0o750);
    const solver = new WebrootSolver(webroot);
    await solver.open();
    await solver.present(task);
    assert.equal(await modeOf(webroot), '711');
    assert.equal(await modeOf(path.join(webroot, '.well-known')), '755');
    assert.equal(await modeOf(path.join(webroot, '.well-known', 'acme-challenge')), '755');
    assert.equal(await readAsNobody(path.join(webroot, '.well-known', 'acme-challenge', task.token)), task.keyAuthorization);
  });


  test('a webroot on a read-only mount (outside the unit\'s ReadWritePaths) names the sandbox and the drop-in', async () => {
    const readOnly = path.join(tmp.path, 'read-only');
    await mkdir(readOnly);
    const solverUrl = new URL('../../../src/modules/certificates/kinds/http01-webroot.ts', import.meta.url).href;
    const script = `const { WebrootSolver } = await import(${JSON.stringify(solverUrl)}); await new WebrootSolver(${JSON.stringify(path.join(readOnly, 'www'))}).open().catch((e) => console.log(e.message));`;
    // A private mount namespace, as systemd's ProtectSystem=strict makes one.
    const out = await runCommand('unshare', [
      '-m', 'sh', '-c', 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$2" --import tsx --input-type=module -e "$3"',
      'sh', readOnly, process.execPath, script,
    ]);
    assert.match(out, /webroot \S+\/read-only\/www is read-only for caretaker: under systemd the service can write only its ReadWritePaths/);
    assert.match(out, /add `ReadWritePaths=\S+\/read-only\/www` in a drop-in \(`systemctl edit caretaker`\)/);
  });
});
