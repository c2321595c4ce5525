// caretaker-test: run-alone (it boots containers and checks the watchdog, and rebuilds dist/ through install.sh --package)
// install.sh and caretaker.service under a real systemd: a bookworm container booted with
// systemd-nspawn (test/e2e/systemd-host.sh), the host's node bind-mounted, the release tarball
// built from this checkout and installed the way docs/install.md says.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Container } from './container.js';
import { MAX_EXPOSURE, exposureOf } from './exposure.js';
import { adminGet, bootWithRelease, repoRoot as root, type Release } from './release.js';


/** A certbot lineage as certbot 2.x leaves it: renewal file, live certificate and key, account (JWK + regr.json). */
const CERTBOT_LINEAGE = [
  'set -e',
  'le=/etc/letsencrypt; acct=$le/accounts/acme-v02.api.letsencrypt.org/directory/0123abcd',
  'mkdir -p $le/renewal $le/live/shop.example.org $acct',
  'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=shop.example.org -addext subjectAltName=DNS:shop.example.org,DNS:www.shop.example.org -keyout $le/live/shop.example.org/privkey.pem -out $le/live/shop.example.org/cert.pem 2>/dev/null',
  `node -e "process.stdout.write(JSON.stringify(require('node:crypto').generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })))" > $acct/private_key.json`,
  `echo '{"body": {}, "uri": "https://acme-v02.api.letsencrypt.org/acme/acct/1"}' > $acct/regr.json`,
  "printf 'version = 2.1.0\\n[renewalparams]\\naccount = 0123abcd\\nserver = https://acme-v02.api.letsencrypt.org/directory\\nauthenticator = webroot\\nwebroot_path = /var/www/shop,\\nkey_type = ecdsa\\n' > $le/renewal/shop.example.org.conf",
].join('\n');

const UNIT = 'caretaker.service';
const CONFIG = '/etc/caretaker/caretaker.yaml';
const DROP_IN = '/etc/systemd/system/caretaker.service.d/e2e.conf';

describe('caretaker under systemd (nspawn)', { timeout: 15 * 60_000 }, () => {
  let release: Release;
  let tarball: string;
  let ct: Container;
  let unpacked: string;

  const props = (...names: string[]) => ct.show(UNIT, names);
  const mainPid = async () => (await props('MainPID')).MainPID;
  const dropIn = async (lines: string) => {
    await ct.ok(`mkdir -p ${DROP_IN.replace(/\/[^/]+$/, '')} && printf '[Service]\\n${lines}\\n' > ${DROP_IN} && systemctl daemon-reload`);
  };
  const removeDropIn = () => ct.ok(`rm -f ${DROP_IN} && systemctl daemon-reload`);
  const running = (pidOtherThan?: string) => async () => {
    const p = await props('ActiveState', 'SubState', 'MainPID');
    return p.ActiveState === 'active' && p.SubState === 'running' && p.MainPID !== '0' && p.MainPID !== pidOtherThan ? p.MainPID : undefined;
  };

  before(async () => {
    ({ ct, release } = await bootWithRelease(`caretaker-e2e-${process.pid}`));
    ({ tarball, unpacked } = release);
  }, { timeout: 35 * 60_000 });

  after(async () => {
    await ct?.stop();
    await release?.dir.cleanup();
  });

  test('docs/install.md shows the commands this test runs', async () => {
    const doc = await readFile(join(root, 'docs', 'install.md'), 'utf8');
    assert.ok(doc.includes(`tar -xzf ${tarball}\ncd ${unpacked.slice('/root/'.length)}\nsudo ./install.sh\n`), 'server commands');
    assert.ok(doc.includes('./install.sh --package\n'), 'release build command');
  });

  test('--dry-run lists the changes and makes none', async () => {
    const out = await ct.ok(`cd /root && tar -xzf /mnt/release/${tarball} && cd ${unpacked} && ./install.sh --dry-run`);
    assert.match(out, /would: install -D -m 0644 .*\/dist\/caretaker\.mjs \/opt\/caretaker\/dist\/caretaker\.mjs/);
    assert.match(out, /would: systemctl start caretaker\.service/);
    assert.equal(await ct.ok('ls /opt/caretaker /etc/caretaker /etc/systemd/system/caretaker.service 2>/dev/null | wc -l'), '0');
  });

  test('install.sh installs, and the unit is active (running) once the daemon said READY=1', async () => {
    // The server commands of docs/install.md (as root, so without sudo).
    const out = await ct.ok(`tar -xzf /mnt/release/${tarball}\ncd ${unpacked.slice('/root/'.length)}\n./install.sh`, 120_000);
    assert.match(out, /is running as caretaker\.service/);
    const p = await props('ActiveState', 'SubState', 'Type', 'NotifyAccess', 'StatusText', 'UnitFileState', 'WatchdogUSec');
    assert.deepEqual(
      [p.ActiveState, p.SubState, p.Type, p.NotifyAccess, p.UnitFileState, p.WatchdogUSec],
      ['active', 'running', 'notify', 'main', 'enabled', '30s'],
    );
    // The status line travels with READY=1; the installed config enables no module.
    assert.match(p.StatusText ?? '', /^running: no modules/);
    assert.deepEqual(JSON.parse(await ct.ok(adminGet('/health'))), { status: 'ok' });
    assert.equal(
      await ct.ok(`stat -c '%a %U:%G' /etc/caretaker /etc/caretaker/caretaker.yaml /var/lib/caretaker /var/backups/caretaker`),
      '750 root:caretaker\n640 root:caretaker\n700 caretaker:caretaker\n700 caretaker:caretaker',
    );
    // Its own user, holding exactly CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL and CAP_NET_BIND_SERVICE (bits 0, 1, 3, 5, 10).
    const pid = await mainPid();
    assert.equal(await ct.ok(`ps -o user= -p ${pid}`), 'caretaker');
    assert.equal(await ct.ok(`grep -E '^Cap(Eff|Bnd|Amb):' /proc/${pid}/status | cut -f2 | sort -u`), '000000000000042b');
    assert.equal(await ct.ok(`cmp /etc/caretaker/caretaker.yaml ${unpacked}/examples/caretaker.yaml && echo same`), 'same');
    // The installed program is the bundle alone: no node_modules on the server.
    assert.equal(await ct.ok('find /opt/caretaker -name node_modules | wc -l'), '0');

    // The rest of the tests run every module: the shipped full example, applied by a reload.
    await ct.ok(`cp /opt/caretaker/examples/full.yaml ${CONFIG} && caretaker check-config && systemctl reload ${UNIT}`);
    const status = await ct.waitFor('every module running', async () => {
      const text = (await props('StatusText')).StatusText ?? '';
      return /^running: certificates, backups, probes, logs/.test(text) ? text : undefined;
    }, 15_000);
    assert.match(status, /^running: certificates, backups, probes, logs/);
  });

  test('the unit stays activating, with the API already up, while READY=1 comes from a child (NotifyAccess=main)', async () => {
    // Started without notify-fd-exec, the daemon falls back to systemd-notify, a child process,
    // whose READY=1 systemd ignores: only the main process may report readiness.
    await dropIn(`ExecStart=\\nExecStart=/usr/local/bin/caretaker run --config ${CONFIG}\\nTimeoutStartSec=8s\\nRestart=no`);
    await ct.ok(`systemctl restart --no-block ${UNIT}`);
    await ct.waitFor('the admin API of the unready daemon', async () => ((await ct.sh(adminGet('/health'))).code === 0 ? true : undefined), 15_000);
    const p = await props('ActiveState', 'SubState');
    assert.deepEqual([p.ActiveState, p.SubState], ['activating', 'start']);
    const failed = await ct.waitFor('the start timeout', async () => {
      const q = await props('ActiveState', 'Result');
      return q.ActiveState === 'failed' ? q : undefined;
    }, 20_000);
    assert.equal(failed.Result, 'timeout');
    await removeDropIn();
    await ct.ok(`systemctl reset-failed ${UNIT} && systemctl start ${UNIT}`, 60_000);
    assert.ok(await running()());
  });

  test('a second install.sh changes nothing and does not restart the daemon', async () => {
    const pid = await mainPid();
    const before = await ct.ok('find /opt/caretaker /usr/local/bin/caretaker /etc/caretaker /etc/systemd/system/caretaker.service -printf "%p %m %s %T@\\n" | sort');
    const out = await ct.ok(`cd ${unpacked} && ./install.sh`, 60_000);
    assert.match(out, /nothing changed/);
    assert.doesNotMatch(out, /^ {2}(install|systemctl|chmod|chown|useradd)/m);
    assert.equal(await ct.ok('find /opt/caretaker /usr/local/bin/caretaker /etc/caretaker /etc/systemd/system/caretaker.service -printf "%p %m %s %T@\\n" | sort'), before);
    assert.equal(await mainPid(), pid);
    assert.match(await ct.ok(`cd ${unpacked} && ./install.sh --dry-run`), /nothing changed/);
  });

  test('an upgrade to a changed program restarts the daemon once, gives a root-era install to the service user, keeps the config', async () => {
    const pid = await mainPid();
    const config = await ct.ok(`sha256sum ${CONFIG}`);
    // As a version that ran as root left things; and a release whose program differs.
    await ct.ok(`chown -R root:root /var/lib/caretaker /var/backups/caretaker && chgrp root ${CONFIG}`);
    await ct.ok(`echo '// next release' >> ${unpacked}/dist/caretaker.mjs`);
    const out = await ct.ok(`cd ${unpacked} && ./install.sh`, 120_000);
    assert.match(out, /^ {2}install -D -m 0644 \S+\/dist\/caretaker\.mjs \/opt\/caretaker\/dist\/caretaker\.mjs$/m);
    assert.match(out, /^ {2}chown -R caretaker:caretaker \/var\/lib\/caretaker$/m);
    assert.match(out, /^ {2}chown -R caretaker:caretaker \/var\/backups\/caretaker$/m);
    assert.match(out, /^ {2}chown root:caretaker \/etc\/caretaker\/caretaker\.yaml$/m);
    assert.equal((out.match(/^ {2}systemctl restart/gm) ?? []).length, 1);
    const next = await running(pid)();
    assert.ok(next, 'a new daemon process, active');
    assert.equal(await ct.ok(`tail -n 1 /opt/caretaker/dist/caretaker.mjs`), '// next release');
    assert.equal(await ct.ok(`sha256sum ${CONFIG}`), config);
    assert.equal(await ct.ok(`find /var/lib/caretaker /var/backups/caretaker ! -user caretaker | wc -l`), '0');
    assert.match(await ct.ok(`cd ${unpacked} && ./install.sh`, 60_000), /nothing changed/);
  });

  test('systemctl reload applies a config change in the same process; an invalid file fails the reload and stays visible', async () => {
    const pid = await mainPid();
    await ct.ok(`sed -i 's|^probes:$|probes:\\n  - { name: e2e-reload, type: tcp, address: "127.0.0.1:9470", interval: 2s }|' ${CONFIG}`);
    // ExecReload= runs `caretaker reload`, which returns once the daemon has applied the file.
    await ct.ok(`systemctl reload ${UNIT}`);
    assert.match(await ct.ok(adminGet('/probes')), /e2e-reload/);
    assert.equal(await mainPid(), pid);

    await ct.ok(`cp ${CONFIG} /root/good.yaml && echo 'nonsense: [' >> ${CONFIG}`);
    const refused = await ct.sh(`systemctl reload ${UNIT}`);
    assert.notEqual(refused.code, 0, 'a refused config fails `systemctl reload`');
    assert.match(await ct.ok(`journalctl -u ${UNIT} --no-pager -o cat -n 50`), /the config file is invalid; the running config stays/);
    const status = await ct.sh('caretaker status');
    assert.equal(status.code, 1);
    assert.match(status.stdout, /^config: reload refused at /m);
    const p = await props('ActiveState', 'SubState', 'MainPID', 'StatusText');
    assert.deepEqual([p.ActiveState, p.SubState, p.MainPID], ['active', 'running', pid]);
    assert.match(p.StatusText ?? '', /reload refused/);
    assert.match(await ct.ok(adminGet('/probes')), /e2e-reload/);
    await ct.ok(`cp /root/good.yaml ${CONFIG} && systemctl reload ${UNIT}`);
    // full.yaml's probes point at servers this container does not run, so only the refusal is asked about.
    assert.doesNotMatch((await ct.sh('caretaker status')).stdout, /reload refused/);
  });

  test('kill -9 of the main process is followed by a restart', async () => {
    const pid = await mainPid();
    const restartsBefore = Number((await props('NRestarts')).NRestarts);
    await ct.ok(`kill -9 ${pid}`);
    // RestartSec=10s, then start-up until READY=1.
    const next = await ct.waitFor('the restarted daemon', running(pid), 40_000);
    assert.notEqual(next, pid);
    assert.equal(Number((await props('NRestarts')).NRestarts), restartsBefore + 1);
  });

  test('the watchdog restarts a daemon whose event loop is blocked', async () => {
    // A shorter watchdog than the shipped 30 s keeps the test short; the mechanism is the same.
    await dropIn('WatchdogSec=3s\\nRestartSec=1s');
    await ct.ok(`systemctl restart ${UNIT}`, 60_000);
    const pid = await mainPid();
    // Healthy: the pings (every WatchdogSec/2 from the event loop) keep it alive past several periods.
    await ct.ok('sleep 7');
    assert.equal(await mainPid(), pid, 'a healthy daemon was restarted by the watchdog');
    // Block the event loop for real: open the inspector (SIGUSR1) and evaluate an endless loop.
    await ct.ok(`kill -USR1 ${pid}`);
    await ct.ok(
      `node --experimental-websocket -e "
        const deadline = Date.now() + 10000;
        (async () => {
          for (;;) {
            try {
              const [target] = await (await fetch('http://127.0.0.1:9229/json/list')).json();
              const ws = new WebSocket(target.webSocketDebuggerUrl);
              ws.onopen = () => { ws.send(JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression: 'for (;;) {}' } })); setTimeout(() => process.exit(0), 300); };
              return;
            } catch (err) { if (Date.now() > deadline) throw err; await new Promise((r) => setTimeout(r, 100)); }
          }
        })();" 2>&1`,
      20_000,
    );
    const next = await ct.waitFor('the restart after the watchdog', running(pid), 30_000);
    assert.notEqual(next, pid);
    assert.match(await ct.ok(`journalctl -u ${UNIT} --no-pager -o cat`), /[Ww]atchdog timeout/);
    await removeDropIn();
    await ct.ok(`systemctl restart ${UNIT}`, 60_000);
  });

  test('systemctl stop exits cleanly', async () => {
    const started = Date.now();
    await ct.ok(`systemctl stop ${UNIT}`, 60_000);
    const elapsedMs = Date.now() - started;
    const p = await props('ActiveState', 'Result', 'ExecMainCode', 'ExecMainStatus');
    assert.deepEqual([p.ActiveState, p.Result, p.ExecMainStatus], ['inactive', 'success', '0']);
    assert.ok(elapsedMs < 20_000, `stop took ${elapsedMs} ms`);
    await ct.ok(`systemctl start ${UNIT}`, 60_000);
  });

  test('inside the sandbox the modules still do their work: chown, a foreign-owned log dir, a writer running as another user, tar', async () => {
    // A log directory like /var/log/redis (owned by its service, 2750): rotating in it needs
    // CAP_DAC_OVERRIDE, giving the new file back to its owner CAP_CHOWN, and the writer runs as
    // another user, so signalling it needs CAP_KILL (as `nginx -s reopen` does). Its process is
    // hidden from the daemon (ProtectProc=invisible), so compression waits for the file to go quiet.
    await ct.ok(`install -d -o nobody -g nogroup -m 2750 /var/log/e2e && printf 'line\\n' > /var/log/e2e/app.log && chown nobody:nogroup /var/log/e2e/app.log && chmod 0640 /var/log/e2e/app.log`);
    // systemd-run's command line is expanded by systemd, where $$ stands for a single $.
    await ct.ok(`systemd-run --unit=e2e-writer -p User=nobody /bin/sh -c 'echo $$$$ > /var/log/e2e/writer.pid; trap "touch /var/log/e2e/reopened" HUP; while :; do sleep 0.2; done'`);
    await ct.waitFor('the writer pid file', async () => ((await ct.sh('test -s /var/log/e2e/writer.pid')).code === 0 ? true : undefined), 15_000);
    await ct.ok(`sed -i 's|^logs:$|logs:\\n  - { name: e2e, paths: [/var/log/e2e/*.log], naming: numbered, rotate: { every: daily }, keep: 3, compress: true, reopen: { signal: HUP, pidFile: /var/log/e2e/writer.pid } }|' ${CONFIG}`);
    await ct.ok(`sed -i 's|^  jobs:$|  jobs:\\n    - { name: etc, type: files, paths: [/etc/caretaker], schedule: "0 3 * * *" }|' ${CONFIG}`);
    await ct.ok(`caretaker check-config && systemctl reload ${UNIT}`);
    await ct.waitFor('the e2e log set', async () => ((await ct.ok(adminGet('/logs'))).includes('"e2e"') ? true : undefined), 15_000);

    await ct.ok(`caretaker logs rotate e2e`, 30_000);
    await ct.waitFor('the writer reopening', async () => ((await ct.sh('test -e /var/log/e2e/reopened')).code === 0 ? true : undefined), 15_000);
    await ct.waitFor('the quiet rotated file compressed', async () => ((await ct.sh('test -e /var/log/e2e/app.log.1.gz')).code === 0 ? true : undefined), 15_000);
    assert.equal(
      await ct.ok('stat -c "%n %U:%G %a" /var/log/e2e/app.log /var/log/e2e/app.log.1.gz'),
      '/var/log/e2e/app.log nobody:nogroup 640\n/var/log/e2e/app.log.1.gz nobody:nogroup 640',
    );
    assert.equal(await ct.ok('zcat /var/log/e2e/app.log.1.gz'), 'line');
    assert.match(await ct.ok(`journalctl -u ${UNIT} --no-pager -o cat | grep -c "compressed once it has gone quiet" || true`), /^[1-9]/);

    const run = await ct.sh(`caretaker backups run etc`, 60_000);
    const journal = async () => ct.ok(`journalctl -u ${UNIT} --no-pager -o cat -n 30 | grep -i backup || true`);
    assert.match(run.stdout, /succeeded/, `${run.stdout}${run.stderr}\n${await journal()}`);
    const archives = await ct.ok('find /var/backups/caretaker/etc -name "*.tar.gz"');
    assert.notEqual(archives, '', await journal());
    await ct.ok(`tar -tzf ${archives.split('\n')[0]} | grep -q caretaker.yaml`);
  });

  test(`systemd-analyze: verify is clean and security exposure is <= ${MAX_EXPOSURE}`, async () => {
    const verify = await ct.sh(`systemd-analyze verify /etc/systemd/system/${UNIT}`);
    assert.deepEqual([verify.code, verify.stdout.trim(), verify.stderr.trim()], [0, '', '']);
    const report = await ct.ok(`systemd-analyze security --no-pager ${UNIT}`);
    const exposure = exposureOf(report);
    console.log(`systemd-analyze security ${UNIT} (running unit, systemd 252): ${exposure}`);
    assert.ok(exposure <= MAX_EXPOSURE, report);
  });

  test('--uninstall keeps config, state and backups; --detect proposes a config beside the kept one', async () => {
    await ct.ok('mkdir -p /var/backups/caretaker/e2e && echo keep > /var/backups/caretaker/e2e/marker');
    const config = await ct.ok(`sha256sum ${CONFIG}`);
    const out = await ct.ok(`cd ${unpacked} && ./install.sh --uninstall`, 60_000);
    assert.match(out, /kept: \/etc\/caretaker/);
    assert.equal(await ct.ok('ls -d /opt/caretaker /usr/local/bin/caretaker /etc/systemd/system/caretaker.service 2>/dev/null | wc -l'), '0');
    assert.equal((await props('LoadState')).LoadState, 'not-found');
    assert.equal(await ct.ok(`sha256sum ${CONFIG}`), config);
    assert.equal(await ct.ok('cat /var/backups/caretaker/e2e/marker && ls -d /var/lib/caretaker/probes'), 'keep\n/var/lib/caretaker/probes');
    assert.match(await ct.ok(`cd ${unpacked} && ./install.sh --uninstall`), /not installed: nothing changed/);

    // What --detect looks for: something on Redis's port, nginx with its logs, a certbot lineage.
    await ct.ok(`systemd-run --unit=fake-redis node -e "require('net').createServer((s) => s.end()).listen(6379, '127.0.0.1')"`);
    await ct.ok(`printf '#!/bin/sh\\nexit 0\\n' > /usr/local/sbin/nginx && chmod +x /usr/local/sbin/nginx && mkdir -p /var/log/nginx`);
    await ct.ok(CERTBOT_LINEAGE);
    const reinstall = await ct.ok(`cd ${unpacked} && ./install.sh --detect`, 120_000);
    assert.match(reinstall, /caretaker\.yaml exists and is kept/);
    assert.equal(await ct.ok(`sha256sum ${CONFIG}`), config);
    const detected = await ct.ok(`cat ${CONFIG}.detected`);
    assert.match(detected, /name: redis, type: redis, url: "redis:\/\/127\.0\.0\.1:6379"/);
    assert.match(detected, /paths: \[\/var\/log\/nginx\/\*\.log\]/);
    assert.match(detected, /reopen: \{ command: "nginx -s reopen" \}/);
    // The lineage as `caretaker adopt certbot` reads it: its real domains and webroot, not guesses.
    assert.match(detected, /^# {3}caretaker adopt certbot --dir \/etc\/letsencrypt --write$/m);
    assert.match(detected, /^# {5}- name: shop\.example\.org\n# {7}domains:\n# {9}- shop\.example\.org\n# {9}- www\.shop\.example\.org\n# {7}challenge:\n# {9}type: http-01\n# {9}webroot: \/var\/www\/shop$/m);
    await ct.ok(`caretaker check-config --config ${CONFIG}.detected`);
    assert.ok(await running()());
    // The kept config came back with the program: the probe added before uninstall is there.
    await ct.waitFor('the kept config in use', async () => ((await ct.ok(adminGet('/probes'))).includes('e2e-reload') ? true : undefined), 15_000);
  });

  test('--purge asks first (a terminal must answer yes; without one it needs --yes), then removes config, state and backups but keeps /etc/letsencrypt', async () => {
    assert.match(await ct.ok(`cd ${unpacked} && ./install.sh --purge --dry-run`), /would: rm -rf \/var\/backups\/caretaker/);
    const scripted = await ct.sh(`cd ${unpacked} && ./install.sh --purge`);
    assert.equal(scripted.code, 1);
    assert.match(scripted.stderr, /--purge deletes \/etc\/caretaker \/var\/lib\/caretaker \/var\/backups\/caretaker \(the config, the state and every backup\); nothing changed\. Run it on a terminal to confirm, or add --yes/);
    // script(1) gives install.sh a terminal; the answer comes through it.
    const declined = await ct.sh(`cd ${unpacked} && printf 'no\\n' | script -qec './install.sh --purge' /dev/null`);
    assert.equal(declined.code, 1);
    assert.match(declined.stdout, /Type yes to go on: [\s\S]*not confirmed: nothing changed/);
    assert.equal(await ct.ok(`cat /var/backups/caretaker/e2e/marker && test -f ${CONFIG} && echo kept`), 'keep\nkept');

    await ct.ok(`cd ${unpacked} && printf 'yes\\n' | script -qec './install.sh --purge' /dev/null`, 60_000);
    assert.equal(await ct.ok('ls -d /opt/caretaker /etc/caretaker /var/lib/caretaker /var/backups/caretaker 2>/dev/null | wc -l'), '0');
    assert.equal(await ct.ok('ls -d /etc/letsencrypt/renewal'), '/etc/letsencrypt/renewal');
    await ct.ok('mkdir -p /var/backups/caretaker/e2e && echo left > /var/backups/caretaker/e2e/marker');
    assert.match(await ct.ok(`cd ${unpacked} && ./install.sh --purge --yes`), /purged config, state and backups; kept \/etc\/letsencrypt/);
    assert.equal(await ct.ok('ls -d /var/backups/caretaker 2>/dev/null | wc -l'), '0');
  });
});
