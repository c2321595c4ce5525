// The webroot solver as the installed service runs it: under the unit's UMask=0027, with the token read
// by another user (the web server's), as nginx's www-data workers read it.
import assert from 'node:assert/strict';
import { chmod, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand } from '../../harness/process.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { WebrootSolver } from '../../../src/modules/certificates/challenges/http01-webroot.js';

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

});
