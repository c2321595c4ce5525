import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { mapBlock, scriptCommand, type MappedBlock } from '../../../src/modules/logs/adopt/map.js';
import { LogrotateSyntaxError, parseLogrotate, SCRIPT_DIRECTIVES, type Block } from '../../../src/modules/logs/adopt/parse.js';
import { logrotateSays, stage, type OracleBlock } from './logrotate-oracle.js';

const run = promisify(execFile);
const FIXTURES = join(import.meta.dirname, '../../fixtures/logrotate');
const noHooks = { emptyDir: () => true };

/** What our parse and mapping say of a block, in the oracle's terms. */
function oursOf(block: Block, mapped: MappedBlock): OracleBlock {
  const rotate = mapped.entry.rotate as { every?: string; maxSize?: string };
  const lastOf = (name: string) => block.directives.findLast((d) => d.name === name);
  const frequency = rotate.every ?? (lastOf('yearly') ? 'yearly' : `size ${sizeBytes(rotate.maxSize!)}`);
  const scripts: Record<string, string> = {};
  for (const name of SCRIPT_DIRECTIVES) {
    const script = lastOf(name);
    if (script && name !== 'preremove') scripts[name] = scriptCommand(script.script ?? '');
  }
  return { paths: block.patterns, frequency, count: mapped.entry.keep as number, compress: mapped.entry.compress === true, scripts };
}

function sizeBytes(text: string): number {
  const [, n, unit] = /^(\d+)(B|KiB|MiB|GiB)$/.exec(text)!;
  return Number(n) * { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[unit as 'B']!;
}

const unindented = (text: string) => text.split('\n').map((l) => l.trim()).join('\n');

/** Script text as logrotate prints it (it prints nothing for some), compared line by line without indentation. */
function sameScripts(ours: Record<string, string>, theirs: Record<string, string>): void {
  assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort());
  for (const [name, text] of Object.entries(theirs)) if (text !== '') assert.equal(unindented(ours[name]!), unindented(text));
}

describe('logrotate parser and mapping against logrotate -d -v', () => {
  let temp: TempDir;
  before(async () => {
    temp = await makeTempDir('logrotate-parse');
  });
  after(async () => temp.cleanup());

  const debianFiles = ['apt', 'dpkg', 'nginx', 'postgresql-common', 'redis-server', 'rsyslog', 'unattended-upgrades'];
  for (const name of debianFiles) {
    test(`Debian's ${name}: paths, frequency, count, compression and scripts as logrotate reads them`, async () => {
      const root = join(temp.path, name);
      await stage(join(FIXTURES, 'debian'), root);
      const conf = join(root, 'etc', name);
      const parsed = await parseLogrotate(conf);
      const theirs = await logrotateSays(conf, root);
      assert.ok(theirs.length > 0, 'logrotate reported no block');
      assert.equal(parsed.blocks.length, theirs.length);
      parsed.blocks.forEach((block, i) => {
        const mapped = mapBlock(block, parsed.blocks, noHooks);
        const ours = oursOf(block, mapped);
        assert.deepEqual({ ...ours, scripts: undefined }, { ...theirs[i]!, scripts: undefined }, `block ${i + 1} of ${name}`);
        sameScripts(ours.scripts, theirs[i]!.scripts);
        assert.deepEqual(mapped.invalid, []);
      });
    });
  }

  test('hand-written: globals then overrides, includes with taboo names, quoted paths, path lists over lines, comments after directives', async () => {
    const root = join(temp.path, 'tricky');
    await stage(join(FIXTURES, 'tricky'), root);
    const conf = join(root, 'etc', 'logrotate.conf');
    const parsed = await parseLogrotate(conf);
    const theirs = await logrotateSays(conf, root);
    assert.deepEqual(
      parsed.files.map((f) => f.slice(root.length)),
      ['/etc/logrotate.conf', '/etc/conf.d/app', '/etc/conf.d/b-overrides', '/etc/conf.d/c-unsupported', '/etc/conf.d/d-later'],
      'e.disabled and f.dpkg-old are taboo',
    );
    assert.equal(parsed.blocks.length, theirs.length);
    const ours = parsed.blocks.map((block) => oursOf(block, mapBlock(block, parsed.blocks, noHooks)));
    ours.forEach((block, i) => {
      assert.deepEqual({ ...block, scripts: undefined }, { ...theirs[i]!, scripts: undefined }, `block ${i + 1}: ${block.paths.join(' ')}`);
      sameScripts(block.scripts, theirs[i]!.scripts);
    });
    // The values that make this corpus tricky, said once in our own terms.
    assert.deepEqual(ours[0]!.paths, [`${root}/var/log/app/app.log`, `${root}/var/log/app/worker.log`]);
    assert.equal(ours[1]!.frequency, `size ${10 * 1024 ** 2}`);
    assert.equal(ours[2]!.compress, false, 'nocompress set as a default in b-overrides reaches b2.log');
    assert.deepEqual([ours[5]!.count, ours[5]!.compress], [2, false], 'main.log, after the include: its own rotate, and the nocompress b-overrides left behind');
  });

  test('the names an included directory holds that logrotate skips (taboo names, subdirectories; not symlinks) are the ones we skip', async () => {
    const dir = join(temp.path, 'taboo');
    await mkdir(dir);
    const names = ['a.rpmsave', 'a.swp', 'a~', 'a,v', 'a.ucf-old', 'a.ucf-new', 'a.ucf-dist', 'a.dpkg-dist', 'a.dpkg-new', 'a.dpkg-old', 'a.dpkg-bak', 'a.dpkg-del', 'a.dpkg-tmp', 'a.cfsaved', 'a.rhn-cfg-tmp-abc', 'a.bak', 'a.disabled', 'a.rpmnew', 'a.rpmorig', 'a.orig', 'a.save', 'a.old', 'a.new', 'a.dist', 'ba.old', '.hidden', 'nginx.caretaker-adopted.disabled'];
    for (const name of names) await writeFile(join(dir, name), `${temp.path}/x.log {\n}\n`);
    await writeFile(join(temp.path, 'linked-target'), `${temp.path}/y.log {\n}\n`);
    await symlink(join(temp.path, 'linked-target'), join(dir, 'linked'));
    await mkdir(join(dir, 'subdir'));
    const read = async (prelude: string) => {
      const conf = join(temp.path, 'taboo.conf');
      await writeFile(conf, `${prelude}include ${dir}\n`);
      const { stdout, stderr } = await run('logrotate', ['-d', '-s', join(temp.path, 'taboo.status'), conf]).catch((e: { stdout: string; stderr: string }) => e);
      const theirs = [...(stdout + stderr).matchAll(/^reading config file (\S+)$/gm)].map((m) => m[1]!).filter((n) => n !== conf).sort();
      const ours = (await parseLogrotate(conf)).files.filter((f) => f !== conf).map((f) => f.slice(dir.length + 1)).sort();
      assert.deepEqual(ours, theirs, prelude);
      return ours;
    };
    assert.ok(!(await read('')).includes('nginx.caretaker-adopted.disabled'));
    assert.ok(!(await read('taboopat + a.o*\ntabooext + .save\n')).includes('a.orig'));
    assert.ok((await read('tabooext .swp\n')).includes('a.disabled'), 'a tabooext without + replaces the list');
  });

  test('every directive that cannot be mapped is named with its file, line and block', async () => {
    const root = join(temp.path, 'unsupported');
    await stage(join(FIXTURES, 'tricky'), root);
    const parsed = await parseLogrotate(join(root, 'etc', 'logrotate.conf'));
    const block = parsed.blocks.find((b) => b.file.endsWith('c-unsupported'))!;
    const mapped = mapBlock(block, parsed.blocks, noHooks);
    const file = join(root, 'etc', 'conf.d', 'c-unsupported');
    assert.deepEqual(
      mapped.unsupported.map((u) => [u.file, u.line, u.directive, u.block]),
      [
        [file, 4, 'mail', `${file}:1`],
        [file, 5, 'prerotate', `${file}:1`],
        [file, 8, 'firstaction', `${file}:1`],
      ],
    );
  });

  test('syntax errors name the file and line', async () => {
    const cases: Record<string, [number, RegExp]> = {
      'comment-after-argument': [3, /rotate needs one number .*'3 # three'/],
      unclosed: [1, /never closed/],
      'no-endscript': [2, /postrotate without endscript/],
      'stray-brace': [2, /} without a block/],
      'text-after-brace': [3, /unexpected text after }: '# done'/],
    };
    for (const name of await readdir(join(FIXTURES, 'bad'))) {
      const [line, message] = cases[name]!;
      const file = join(FIXTURES, 'bad', name);
      await assert.rejects(
        async () => {
          const parsed = await parseLogrotate(file);
          for (const b of parsed.blocks) mapBlock(b, parsed.blocks, noHooks);
        },
        (err: unknown) => err instanceof LogrotateSyntaxError && err.file === file && err.line === line && message.test(err.message) && err.message.startsWith(`${file}:${line}: `),
        name,
      );
    }
  });
});
