import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../../../src/agent/cli/index.js';
import { EXIT } from '../../../src/agent/kit/cli.js';
import { modules } from '../../../src/modules/index.js';
import { configSchema } from '../../../src/modules/logs/config.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { stage } from './logrotate-oracle.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/logrotate');
const run = promisify(execFile);

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, modules, { out: (t) => out.push(t), err: (t) => err.push(t), env: { CARETAKER_CONFIG: '/nonexistent/caretaker.yaml' } });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Every file under `dir` with its bytes and mode, to show that nothing changed. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) await walk(path);
      else files[path] = `${(await stat(path)).mode} ${await readFile(path, 'utf8')}`;
    }
  };
  await walk(dir);
  return files;
}

/** The paths logrotate itself would rotate with this config now (its debug run changes nothing). */
async function logrotatePatterns(conf: string, root: string): Promise<string> {
  const { stdout, stderr } = await run('logrotate', ['-d', '-s', join(root, 'status'), conf]).catch((e: { stdout: string; stderr: string }) => e);
  return [...(stdout + stderr).matchAll(/^rotating pattern: (\S+)/gm)].map((m) => m[1]).join(' ');
}

describe('caretaker adopt logrotate', () => {
  let temp: TempDir;
  let root: string;
  let conf: string;
  beforeEach(async () => {
    temp = await makeTempDir('adopt-logrotate');
    root = temp.path;
    await stage(join(FIXTURES, 'tricky'), root);
    await stage(join(FIXTURES, 'debian'), join(root, 'deb'));
    // Debian's nginx file in the included directory, re-rooted.
    await writeFile(join(root, 'etc/conf.d/nginx'), await readFile(join(root, 'deb/etc/nginx'), 'utf8'));
    conf = join(root, 'etc/logrotate.conf');
  });
  afterEach(async () => temp.cleanup());

  test('--dry-run prints a logs section the config accepts and changes no byte', async () => {
    const before = await snapshot(root);
    const r = await cli('adopt', 'logrotate', join(root, 'etc/conf.d/nginx'), join(root, 'etc/conf.d/app'), '--dry-run', '--logrotate-conf', conf);
    assert.equal(r.code, EXIT.ok, r.err);
    const section = configSchema.parse((parseYaml(r.out) as { logs: unknown }).logs);
    assert.deepEqual(section.map((s) => s.name), ['nginx', 'app']);
    const nginx = section[0]!;
    assert.deepEqual([nginx.paths, nginx.rotate.every, nginx.keep, nginx.compress, nginx.delayCompress, nginx.naming, nginx.reopen?.command], [[`${root}/deb/var/log/nginx/*.log`], 'daily', 14, { level: 6 }, true, 'numbered', 'invoke-rc.d nginx rotate >/dev/null 2>&1']);
    assert.deepEqual(nginx.create, { owner: 'www-data', group: 'adm', mode: 0o640 });
    assert.match(r.out, /# from .*conf\.d\/nginx:1/);
    assert.match(r.err, /would disable .*conf\.d\/nginx/);
    assert.deepEqual(await snapshot(root), before);
  });

  test('adopting moves the file aside where logrotate no longer reads it; --undo gives it back', async () => {
    const nginxGlob = `${root}/deb/var/log/nginx/*.log`;
    assert.match(await logrotatePatterns(conf, root), new RegExp(nginxGlob.replace(/[.*]/g, '\\$&')));
    const r = await cli('adopt', 'logrotate', join(root, 'etc/conf.d/nginx'), '--logrotate-conf', conf);
    assert.equal(r.code, EXIT.ok, r.err);
    assert.deepEqual((await readdir(join(root, 'etc/conf.d'))).filter((n) => n.startsWith('nginx')), ['nginx.caretaker-adopted.disabled']);
    assert.doesNotMatch(await logrotatePatterns(conf, root), /nginx/);
    const again = await cli('adopt', 'logrotate', join(root, 'etc/conf.d/nginx'), '--logrotate-conf', conf);
    assert.equal(again.code, EXIT.usage, 'a file logrotate no longer reads is not adopted twice');
    const moved = await snapshot(root);
    const dry = await cli('adopt', 'logrotate', '--undo', '--dry-run', '--logrotate-conf', conf);
    assert.equal(dry.code, EXIT.ok, dry.err);
    assert.match(dry.out, /^would restore .*nginx\.caretaker-adopted\.disabled -> .*conf\.d\/nginx$/);
    assert.deepEqual(await snapshot(root), moved);
    const undo = await cli('adopt', 'logrotate', '--undo', '--logrotate-conf', conf);
    assert.equal(undo.code, EXIT.ok, undo.err);
    assert.match(undo.out, /restored .*nginx\.caretaker-adopted\.disabled -> .*conf\.d\/nginx$/);
    assert.match(await logrotatePatterns(conf, root), /nginx/);
  });

  test('a file with a directive it cannot map is skipped and named, unless --allow-partial', async () => {
    const file = join(root, 'etc/conf.d/c-unsupported');
    const before = await snapshot(root);
    const r = await cli('adopt', 'logrotate', file, '--logrotate-conf', conf);
    assert.equal(r.code, EXIT.failure);
    assert.match(r.err, new RegExp(`${file}:4: mail \\(block ${file}:1\\)`));
    assert.match(r.err, /skipped, left to logrotate \(--allow-partial/);
    assert.deepEqual(await snapshot(root), before);
    const partial = await cli('adopt', 'logrotate', '--allow-partial', file, '--logrotate-conf', conf);
    assert.equal(partial.code, EXIT.ok, partial.err);
    assert.match(partial.out, /# not adopted: mail .*c-unsupported:4/);
    await stat(`${file}.caretaker-adopted.disabled`);
  });

  test("a tabooext that no longer skips .disabled refuses the move (logrotate would read the file again), nothing changed", async () => {
    await writeFile(conf, (await readFile(conf, 'utf8')).replace(/^include /m, 'tabooext .rpmsave\ninclude '));
    const before = await snapshot(root);
    const r = await cli('adopt', 'logrotate', join(root, 'etc/conf.d/nginx'), '--logrotate-conf', conf);
    assert.equal(r.code, EXIT.failure);
    assert.match(r.err, /logrotate would still read nginx\.caretaker-adopted\.disabled .*tabooext.*nothing was changed/);
    assert.deepEqual(await snapshot(root), before);
  });

  test("logrotate's main file cannot be moved aside: refused, in a dry run too", async () => {
    await writeFile(conf, `${await readFile(conf, 'utf8')}${root}/var/log/main2.log {\n  daily\n}\n`);
    const before = await snapshot(root);
    for (const dry of [['--dry-run'], []]) {
      const r = await cli('adopt', 'logrotate', conf, ...dry, '--logrotate-conf', conf);
      assert.equal(r.code, EXIT.failure);
      assert.match(r.err, /logrotate's main file and cannot be moved aside: move its blocks to a file of an included directory/);
    }
    assert.deepEqual(await snapshot(root), before);
  });

  test('a syntax error names file and line, exits 78 and changes nothing', async () => {
    await writeFile(join(root, 'etc/conf.d/broken'), `${root}/var/log/x.log {\n  rotate 3 # three\n}\n`);
    const before = await snapshot(root);
    const r = await cli('adopt', 'logrotate', '--logrotate-conf', conf);
    assert.equal(r.code, EXIT.config);
    assert.match(r.err, new RegExp(`invalid logrotate config: ${root}/etc/conf.d/broken:2: rotate needs one number.*nothing was changed`));
    assert.deepEqual(await snapshot(root), before);
  });

  test('a file logrotate does not read and a bare `adopt` are usage errors', async () => {
    const r = await cli('adopt', 'logrotate', join(root, 'etc/conf.d/e.disabled'), '--logrotate-conf', conf);
    assert.equal(r.code, EXIT.usage);
    assert.match(r.err, /not read by logrotate/);
    const bare = await cli('adopt');
    assert.equal(bare.code, EXIT.usage);
    assert.match(bare.err, /usage: caretaker adopt logrotate/);
  });
});
