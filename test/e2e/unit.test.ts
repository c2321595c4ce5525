// Checks of systemd/caretaker.service and install.sh that need no booted systemd (fast, every run).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MAX_EXPOSURE, exposureOf } from './exposure.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const unitPath = join(root, 'systemd', 'caretaker.service');

test('systemd-analyze verify is clean on the host', async () => {
  // /usr/local/bin/caretaker exists only where install.sh ran; verify insists that ExecStart is
  // executable, so point it at the same program through node for this check. The installed unit
  // itself is verified unchanged inside the container (systemd.test.ts).
  const dir = await mkdtemp(join(tmpdir(), 'caretaker-unit-'));
  try {
    const unit = (await readFile(unitPath, 'utf8')).replaceAll('/usr/local/bin/caretaker', `${process.execPath} ${root}dist/caretaker.mjs`);
    await writeFile(join(dir, 'caretaker.service'), unit);
    const { stdout, stderr } = await run('systemd-analyze', ['verify', join(dir, 'caretaker.service')]);
    assert.deepEqual([stdout.trim(), stderr.trim()], ['', '']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(`systemd-analyze security --offline scores the unit at <= ${MAX_EXPOSURE}`, async () => {
  const { stdout } = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', unitPath]);
  assert.ok(exposureOf(stdout) <= MAX_EXPOSURE, stdout);
});

test('the unit keeps the promises install.sh and the daemon rely on', async () => {
  const unit = await readFile(unitPath, 'utf8');
  for (const line of [
    'Type=notify', 'NotifyAccess=main', 'User=caretaker', 'WatchdogSec=30s', 'Restart=on-failure', 'RestartSec=10s', 'StartLimitIntervalSec=200',
    'StartLimitBurst=5', 'ExecReload=/usr/local/bin/caretaker reload --config /etc/caretaker/caretaker.yaml', 'SyslogIdentifier=caretaker', 'TimeoutStopSec=30s', 'ProtectSystem=strict', 'NoNewPrivileges=yes',
    'SystemCallFilter=@system-service', 'RestartPreventExitStatus=78',
  ]) {
    assert.ok(unit.split('\n').includes(line), line);
  }
  // Readiness from the main PID needs the descriptor notify-fd-exec opens; install.sh ships the script there.
  assert.match(unit, /^ExecStart=\/usr\/bin\/perl \/opt\/caretaker\/systemd\/notify-fd-exec \/usr\/local\/bin\/caretaker run /m);
  assert.match(await readFile(join(root, 'install.sh'), 'utf8'), /^readonly STATIC_FILES=\(.* systemd\/notify-fd-exec /m);
  // Node's JIT needs W+X pages; host metrics need all of /proc.
  assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=yes/m);
  assert.doesNotMatch(unit, /^ProcSubset=pid/m);
});

test('install.sh parses, and refuses unknown options', async () => {
  await run('bash', ['-n', join(root, 'install.sh')]);
  await assert.rejects(run('bash', [join(root, 'install.sh'), '--bogus']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /unknown option: --bogus/);
    return true;
  });
});
