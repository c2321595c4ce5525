import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startNginx, type NginxServer } from '../harness/nginx.js';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { runCommand } from '../harness/process.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { doctorExitCode, formatDoctor, runDoctor } from '../../src/agent/cli/doctor.js';
import { runCli } from '../../src/agent/cli/index.js';
import type { DoctorLine, Sandbox } from '../../src/agent/kit/doctor.js';
import { backupsDoctor } from '../../src/modules/backups/doctor.js';
import { configSchema as backupsSchema } from '../../src/modules/backups/config.js';
import { logsDoctor } from '../../src/modules/logs/doctor.js';
import { configSchema as logsSchema } from '../../src/modules/logs/config.js';
import { modules } from '../../src/modules/index.js';

/**
 * `caretaker doctor` against the real parts: nginx serving the webroot, PostgreSQL behind the backup job,
 * the file system. A correct setup is all ok; each broken one fails on its own line with the fix.
 */
let tmp: TempDir;
let nginx: NginxServer;
let other: NginxServer;
let pg: PostgresServer;
let webroot: string;

before(async () => {
  tmp = await makeTempDir('doctor');
  // The web server's user (www-data) walks down to the webroot, as on a server.
  await chmod(tmp.path, 0o755);
  webroot = path.join(tmp.path, 'www');
  await mkdir(webroot, { mode: 0o755 });
  await mkdir(path.join(tmp.path, 'elsewhere'), { mode: 0o755 });
  [nginx, other, pg] = await Promise.all([startNginx({ sites: [{ root: webroot }] }), startNginx({ sites: [{ root: path.join(tmp.path, 'elsewhere') }] }), startPostgres()]);
  await mkdir(path.join(tmp.path, 'logs'), { mode: 0o755 });
});

after(async () => {
  await Promise.all([nginx?.stop(), other?.stop(), pg?.stop()]);
  await tmp?.cleanup();
});

function configText(extra: { pgUrl?: string; binDir?: string } = {}): string {
  return `agent: { stateDir: ${path.join(tmp.path, 'state')} }
admin: { listen: "127.0.0.1:0" }
certificates:
  dir: ${path.join(tmp.path, 'le')}
  acme: { directory: "https://127.0.0.1:1/dir", email: ops@example.com }
  certs:
    - { name: shop, domains: [shop.test], challenge: { type: http-01, webroot: ${webroot} } }
backups:
  dir: ${path.join(tmp.path, 'backups')}
  jobs:
    - { name: pg-app, type: postgres, url: "${extra.pgUrl ?? pg.url}", schedule: "0 2 * * *"${extra.binDir ? `, binDir: ${extra.binDir}` : ''} }
logs:
  - { name: app, paths: [${path.join(tmp.path, 'logs')}/*.log], rotate: { every: daily } }
`;
}

async function doctor(text: string, options: { port?: number; resolve?: (name: string) => Promise<string[]> } = {}): Promise<DoctorLine[]> {
  const file = path.join(tmp.path, `caretaker-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, text);
  return runDoctor(modules, {
    configPath: file,
    environment: { env: {}, credentialsDirectory: path.join(tmp.path, 'credentials') },
    unit: 'caretaker-doctor-test-no-such.service',
    httpPort: options.port ?? nginx.ports[0]!,
    resolve: options.resolve ?? (async () => ['127.0.0.1']),
  });
}

const failing = (lines: DoctorLine[]) => lines.filter((l) => l.status === 'fail');
const line = (lines: DoctorLine[], check: string) => lines.find((l) => l.check === check);

test('a correct setup: every line ok (the sandbox only warned about outside systemd), exit 0', async () => {
  const lines = await doctor(configText());
  assert.deepEqual(failing(lines), [], formatDoctor(lines));
  assert.equal(doctorExitCode(lines), 0);
  assert.equal(line(lines, 'sandbox')?.status, 'warn');
  assert.match(line(lines, 'http-01 shop.test')?.detail ?? '', /serves the challenge from the webroot/);
  assert.match(line(lines, 'pg_dump pg-app')?.detail ?? '', /^pg_dump \d+(\.\d+)? \(\/usr\/lib\/postgresql\/\d+\/bin\) for server \d+/);
  assert.match(formatDoctor(lines), /^ok {4}config {2,}/m);
});

test('the web server cannot read the webroot: the webroot line fails and says what to chmod', async () => {
  await chmod(webroot, 0o700);
  try {
    const lines = await doctor(configText());
    const webrootFail = lines.find((l) => l.check === 'webroot shop' && l.status === 'fail');
    assert.match(webrootFail?.detail ?? formatDoctor(lines), /www-data \(the web server\) cannot read .*acme-challenge\/caretaker-doctor-/);
    assert.match(webrootFail!.fix!, /chmod o\+rx/);
    assert.equal(doctorExitCode(lines), 1);
  } finally {
    await chmod(webroot, 0o755);
  }
});

test("a domain that resolves elsewhere, and port 80 answered by another site: the domain's http-01 line fails", async () => {
  const elsewhere = await doctor(configText(), { resolve: async () => ['127.0.0.2'] });
  assert.match(line(elsewhere, 'http-01 shop.test')!.detail, /shop\.test → 127\.0\.0\.2:\d+: .*ECONNREFUSED/);
  assert.match(line(elsewhere, 'http-01 shop.test')!.fix!, /point shop\.test at this server/);
  const wrongServer = await doctor(configText(), { port: other.ports[0]! });
  assert.match(line(wrongServer, 'http-01 shop.test')!.detail, /answered 404 for a token in the webroot: the CA would fail too/);
  const unresolved = await doctor(configText(), { resolve: async () => Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND shop.test'), { code: 'ENOTFOUND' })) });
  assert.match(line(unresolved, 'http-01 shop.test')!.detail, /shop\.test does not resolve/);
});

test('pg_dump older than the server: the job line fails naming both versions', async () => {
  const bin = path.join(tmp.path, 'old-pg');
  await mkdir(bin, { recursive: true });
  await writeFile(path.join(bin, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n', { mode: 0o755 });
  const lines = await doctor(configText({ binDir: bin }));
  assert.match(line(lines, 'pg_dump pg-app')!.detail, /^server is PostgreSQL \d+, newest pg_dump here is 9\.6: install postgresql-client-\d+ \(PGDG\) and point binDir at its bin directory$/);
  assert.equal(line(lines, 'pg_dump pg-app')!.status, 'fail');
});

test('a wrong PostgreSQL password and a missing credential file', async () => {
  const wrong = await doctor(configText({ pgUrl: pg.url.replace(pg.password, 'not-the-password') }));
  assert.equal(line(wrong, 'pg_dump pg-app')!.status, 'fail');
  assert.match(line(wrong, 'pg_dump pg-app')!.detail, /password authentication failed/);
  assert.doesNotMatch(formatDoctor(wrong), /not-the-password/);
  const missing = await doctor(configText({ pgUrl: pg.url.replace(pg.password, '${credential:pg-password}') }));
  assert.deepEqual(missing.map((l) => [l.status, l.check]), [['fail', 'config']]);
  assert.match(missing[0]!.detail, /pg-password/);
});

test('backups: a full disk for the next run, a dir outside ReadWritePaths; logs: a directory the service cannot write', async () => {
  const small = path.join(tmp.path, 'small');
  await mkdir(small);
  await runCommand('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
  try {
    await mkdir(path.join(small, 'pg-app'));
    await writeFile(path.join(small, 'pg-app', 'pg-app-20261130T020000.000Z.dump'), Buffer.alloc(700 * 1024));
    const config = backupsSchema.parse({ dir: small, jobs: [{ name: 'pg-app', type: 'postgres', url: pg.url, schedule: '0 2 * * *' }] });
    const ctx = { sandbox: undefined, stateDir: tmp.path, signal: AbortSignal.timeout(30_000), resolve: async () => [], httpPort: 80 };
    const space = line(await backupsDoctor(config, ctx), 'backup space')!;
    assert.equal(space.status, 'fail', space.detail);
    assert.match(space.detail, /free in .*small, the next runs need about 840\.0 KiB/);

    const sandbox: Sandbox = { writable: [path.join(tmp.path, 'state')], user: 'nobody', unit: 'caretaker.service', overridesModes: false };
    const outside = line(await backupsDoctor(config, { ...ctx, sandbox }), 'backups dir')!;
    assert.equal(outside.status, 'fail');
    assert.match(outside.detail, /outside the service's ReadWritePaths/);
    assert.match(outside.fix!, new RegExp(`ReadWritePaths=${small} \\(systemctl edit caretaker\\.service\\)`));

    const logs = logsSchema.parse([{ name: 'app', paths: [path.join(tmp.path, 'logs', '*.log')], rotate: { every: 'daily' } }]);
    const notWritable = line(await logsDoctor(logs, { ...ctx, sandbox: { ...sandbox, writable: [tmp.path] } }), 'logs app')!;
    assert.equal(notWritable.status, 'fail', 'nobody cannot write a root 0755 directory');
    assert.match(notWritable.detail, /logs is not writable by nobody/);
    // With CAP_DAC_OVERRIDE (the installed unit has it) modes do not stop the service; the sandbox still does.
    const capable = line(await logsDoctor(logs, { ...ctx, sandbox: { ...sandbox, writable: [tmp.path], overridesModes: true } }), 'logs app')!;
    assert.equal(capable.status, 'ok', capable.detail);
  } finally {
    await runCommand('umount', [small]);
  }
});

test('caretaker doctor: one line per check, --json, exit 1 on a failure', async () => {
  const file = path.join(tmp.path, 'cli.yaml');
  await writeFile(file, `agent: { stateDir: ${path.join(tmp.path, 'state')} }\nadmin: { listen: "127.0.0.1:0" }\nbackups:\n  dir: ${path.join(tmp.path, 'backups')}\n  jobs:\n    - { name: pg-app, type: postgres, url: "${pg.url}", schedule: "0 2 * * *" }\n`);
  const run = async (args: string[]) => {
    const out: string[] = [];
    const code = await runCli(['doctor', '--config', file, '--unit', 'caretaker-doctor-test-no-such.service', ...args], modules, { out: (t) => out.push(t), err: () => undefined, env: {} });
    return { code, out: out.join('\n') };
  };
  const good = await run([]);
  assert.equal(good.code, 0, good.out);
  assert.match(good.out, /^ok {4}pg_dump pg-app {2,}pg_dump \d+/m);
  const json = JSON.parse((await run(['--json'])).out) as { lines: DoctorLine[] };
  assert.ok(json.lines.some((l) => l.check === 'backup space' && l.status === 'ok'));
  await writeFile(file, `agent: { stateDir: ${path.join(tmp.path, 'state')} }\nprobes:\n  - { name: cache, type: redis, url: "http://not-redis" }\n`);
  const bad = await run([]);
  assert.equal(bad.code, 1);
  assert.match(bad.out, /^fail {2}config {2,}.*probes\.0\.url/m);
});
