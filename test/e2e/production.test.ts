// caretaker-test: run-alone (it boots a container running nginx, PostgreSQL, Redis, pebble and Prometheus, and rebuilds dist/ through install.sh --package)
// The setup caretaker replaces, on one server under real systemd: nginx as Debian runs it in front of
// an API on :8000 with the certbot webroot, PostgreSQL and Redis with passwords, pebble as the CA and
// Prometheus with contrib/prometheus/, then caretaker installed from the release tarball and
// configured for all of it the way its docs say (passwords through LoadCredential=). Each test
// names the point of issue 13 it keeps fixed. The container keeps its own Node.js, Debian 12's
// nodejs 18.x, not the host's (issue 23): the service, the CLI and the helper scripts all run on it.
// E2E_RELEASE_REF=<commit> runs it against an older product (test/e2e/release.ts).
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateServerCerts } from '../harness/certs.js';
import type { Container, RunResult } from './container.js';
import { MAX_EXPOSURE, exposureOf } from './exposure.js';
import { bootWithRelease, repoRoot, type Release } from './release.js';

const UNIT = 'caretaker.service';
const CONFIG = '/etc/caretaker/caretaker.yaml';
const DOMAIN = 'shop.test';
const PG_PASSWORD = 'pg4e2eSecret';
const REDIS_PASSWORD = 'redis4e2eSecret';
/** Files written on the host, seen in the container here (the release directory's bind mount). */
const FILES = '/mnt/release/files';
const LOAD_REQUESTS = 3000;
/** Debian 12's nodejs package (18.20.4 and its security updates). */
const DEBIAN_NODE = /^18\.20\.\d+$/;

const admin = (path: string) => `http://127.0.0.1:9470${path}`;

/** caretaker.yaml for the whole pile; extraCerts adds lines to certificates.certs. */
function caretakerConfig(extraCerts = ''): string {
  const pg = `postgres://app:\${credential:pg-password}@127.0.0.1:5432/app`;
  const redis = `redis://default:\${credential:redis-password}@127.0.0.1:6379`;
  return `admin: { listen: 127.0.0.1:9470 }
metrics: { listen: 127.0.0.1:9471, host: true }
certificates:
  dir: /etc/letsencrypt
  acme:
    directory: https://127.0.0.1:14000/dir
    email: ops@${DOMAIN}
    caBundle: /etc/caretaker/pebble-ca.pem
  certs:
    - name: ${DOMAIN}
      domains: [${DOMAIN}]
      challenge: { type: http-01, webroot: /var/www/certbot }
      deploy: { command: "systemctl reload nginx" }
${extraCerts}
backups:
  dir: /var/backups/caretaker
  jobs:
    - { name: pg-app, type: postgres, url: "${pg}", schedule: "0 2 * * *", retention: { keepLast: 3 }, heartbeat: "http://127.0.0.1:9999/hb/pg-app" }
    - { name: redis, type: redis, url: "${redis}", schedule: "0 */6 * * *", retention: { keepDaily: 7 } }
probes:
  - { name: redis, type: redis, url: "${redis}", interval: 2s, timeout: 2s, critical: true }
  - { name: pg, type: postgres, url: "${pg}", interval: 2s, critical: true }
  - { name: api, type: http, url: "http://127.0.0.1/health", interval: 2s }
alerts:
  channels:
    - { name: ops, type: webhook, url: "http://127.0.0.1:9999/hook" }
  group: 0s
  # The container shares the host's disks and memory: their conditions would be about the CI machine.
  host: { diskFree: 0, memoryAvailable: 0 }
logs:
  - { name: nginx, paths: [/var/log/nginx/*.log], rotate: { every: daily, maxSize: 100MiB }, keep: 30, compress: true, delayCompress: true,
      reopen: { signal: USR1, pidFile: /run/nginx.pid } }
`;
}

const NGINX_SITE = `server {
    listen 80 default_server;
    server_name ${DOMAIN};
    location /.well-known/acme-challenge/ { root /var/www/certbot; }
    location / { proxy_pass http://127.0.0.1:8000; }
}
`;

const NGINX_TLS_SITE = `server {
    listen 443 ssl;
    server_name ${DOMAIN};
    ssl_certificate /etc/letsencrypt/live/${DOMAIN}/fullchain.pem;
    ssl_certificate_key /etc/letsencrypt/live/${DOMAIN}/privkey.pem;
    location / { proxy_pass http://127.0.0.1:8000; }
}
`;

const API = `require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok: true, path: req.url }));
}).listen(8000, '127.0.0.1');
`;

/** What the alerts webhook and the heartbeats reach: each request as a JSON line in /var/lib/e2e-receiver/requests.jsonl. */
const RECEIVER = `const fs = require('node:fs');
fs.mkdirSync('/var/lib/e2e-receiver', { recursive: true });
require('node:http').createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    fs.appendFileSync('/var/lib/e2e-receiver/requests.jsonl', JSON.stringify({ method: req.method, url: req.url, body }) + '\\n');
    res.end('ok');
  });
}).listen(9999, '127.0.0.1');
`;

/** Bounded load: LOAD_REQUESTS requests, 8 at a time, through nginx; prints how many got a 200. */
const LOAD = `const [total, concurrency] = process.argv.slice(2).map(Number);
const deadline = Date.now() + 60_000;
let next = 0;
let ok = 0;
async function worker() {
  while (next < total && Date.now() < deadline) {
    const i = next++;
    const res = await fetch('http://127.0.0.1/orders?i=' + i);
    await res.arrayBuffer();
    if (res.status === 200) ok++;
  }
}
Promise.all(Array.from({ length: concurrency }, worker)).then(() => console.log(JSON.stringify({ sent: next, ok })));
`;

/** The serial nginx presents on :443 for the domain. */
const SERVED_SERIAL = `node -e "const s = require('node:tls').connect({ host: '127.0.0.1', port: 443, servername: '${DOMAIN}', rejectUnauthorized: false }, () => { console.log(s.getPeerCertificate().serialNumber); s.end(); })"`;

interface CertView {
  state: string;
  serial?: string;
  lastError?: string;
  deploy?: { ok: boolean; message?: string };
}

interface ProbeView {
  name: string;
  status: string;
  last: { reason: string; message: string } | null;
}

/** `lastReload` of GET /status and GET /health/deep: the outcome of the last reload, with the config's problems. */
interface LastReload {
  ok: boolean;
  at: string;
  issues?: Array<{ path: string; message: string }>;
}

describe('the production scenario: caretaker replacing certbot, cron backups, logrotate and a health script (issue 13)', { timeout: 20 * 60_000 }, () => {
  let ct: Container;
  let release: Release;

  const json = async <T>(url: string): Promise<T> => JSON.parse(await ct.ok(`curl -sS --max-time 10 '${url}'`)) as T;
  const cert = (name: string) => json<CertView>(admin(`/certs/${name}`));
  const mainPid = async () => (await ct.show(UNIT, ['MainPID'])).MainPID;
  const output = (r: RunResult) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
  const writeConfig = async (text: string) => {
    await writeFile(join(release.dir.path, 'files', 'caretaker.yaml'), text);
    await ct.ok(`install -m 0640 -g caretaker ${FILES}/caretaker.yaml ${CONFIG}`);
  };
  const psql = (sql: string) => ct.ok(`PGPASSWORD=${PG_PASSWORD} psql -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -U app -d app -c "${sql}"`);
  const redisCli = (args: string) => ct.ok(`redis-cli --no-auth-warning -a ${REDIS_PASSWORD} ${args}`);
  const ordersDigest = () => psql(`select count(*) || ':' || md5(string_agg(id || item, ',' order by id)) from orders`);
  const metric = async (name: string) => {
    const body = await ct.ok(`curl -sS --max-time 10 http://127.0.0.1:9471/metrics`);
    return body.split('\n').filter((line) => line.startsWith(name));
  };
  const lastReload = async (path: string) => (await json<{ lastReload?: LastReload }>(admin(path))).lastReload;
  // A new certificate shows as valid while its deploy command still runs: wait for the deploy's outcome too.
  const waitForCert = (name: string, states: string[]) =>
    ct.waitFor(`certificate ${name} in state ${states.join('|')}`, async () => {
      const view = await cert(name);
      return states.includes(view.state) && (view.state !== 'valid' || view.deploy) ? view : undefined;
    }, 40_000);
  const everyProbeUp = () =>
    ct.waitFor('every probe up', async () => {
      const { probes } = await json<{ probes: ProbeView[] }>(admin('/probes'));
      return probes.length === 3 && probes.every((p) => p.status === 'up') ? probes : undefined;
    }, 20_000);
  const waitForMetric = (line: string) =>
    ct.waitFor(line, async () => ((await metric(line.split(' ')[0]!)).join('\n') === line ? true : undefined), 15_000);

  before(async () => {
    ({ ct, release } = await bootWithRelease(`caretaker-prod-${process.pid}`, [], { hostNode: false }));
    const files = join(release.dir.path, 'files');
    await mkdir(files);
    await generateServerCerts(files);
    await cp(join(repoRoot, 'contrib', 'prometheus', 'alerts.yml'), join(files, 'alerts.yml'));
    // contrib's prometheus.yml as shipped, with second-long intervals so the test does not wait minutes.
    const prometheus = (await readFile(join(repoRoot, 'contrib', 'prometheus', 'prometheus.yml'), 'utf8'))
      .replace(/(scrape_interval|evaluation_interval): 30s/g, '$1: 1s')
      .replace(/scrape_timeout: 10s/, 'scrape_timeout: 1s');
    await writeFile(join(files, 'prometheus.yml'), prometheus);
    const pebble = {
      pebble: {
        listenAddress: '127.0.0.1:14000',
        managementListenAddress: '127.0.0.1:15000',
        certificate: `${FILES}/server.pem`,
        privateKey: `${FILES}/server.key`,
        httpPort: 80,
        tlsPort: 5001,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    };
    await writeFile(join(files, 'pebble.json'), JSON.stringify(pebble));
    for (const [name, text] of Object.entries({ 'shop.conf': NGINX_SITE, 'shop-tls.conf': NGINX_TLS_SITE, 'api.js': API, 'load.js': LOAD, 'receiver.js': RECEIVER })) {
      await writeFile(join(files, name), text);
    }
  }, { timeout: 35 * 60_000 });

  after(async () => {
    await ct?.stop();
    await release?.dir.cleanup();
  });

  test('install.sh from the release tarball: the daemon runs, on Debian 12\'s own nodejs 18 (issue 23)', async () => {
    const out = await ct.ok(`cd /root && tar -xzf /mnt/release/${release.tarball} && cd ${release.unpacked} && ./install.sh`, 120_000);
    assert.match(out, /is running as caretaker\.service/);
    assert.match(out, /^node: \/usr\/bin\/node v18\.20\.\d+ \(package nodejs 18\.20\.\d+\S*\)$/m, out);
    assert.equal(await ct.ok(`readlink /proc/${await mainPid()}/exe`), '/usr/bin/node');
    assert.match((await json<{ node: string }>(admin('/status'))).node, DEBIAN_NODE);
    assert.match(await ct.ok('caretaker version'), /^caretaker \S+ \(node 18\.20\.\d+\)$/);
  });

  test('the pile it replaces runs: nginx as www-data with the certbot webroot, an API, pebble, PostgreSQL and Redis with passwords', async () => {
    // nginx with the certbot webroot (as a certbot user has it) in front of the API.
    await ct.ok(`install -d -m 0755 /var/www/certbot /opt/e2e && cp ${FILES}/api.js ${FILES}/load.js ${FILES}/receiver.js /opt/e2e/`);
    await ct.ok(`rm -f /etc/nginx/sites-enabled/default && cp ${FILES}/shop.conf /etc/nginx/sites-enabled/shop.conf && systemctl start nginx`);
    await ct.ok(`systemd-run --unit=api -p DynamicUser=yes /usr/bin/node /opt/e2e/api.js`);
    // Where the alerts webhook and the heartbeats go (a stand-in for Slack or healthchecks.io).
    await ct.ok(`systemd-run --unit=receiver /usr/bin/node /opt/e2e/receiver.js`);
    // pebble resolves every name to the loopback through challtestsrv, so it validates via nginx on :80.
    await ct.ok(`systemd-run --unit=challtestsrv /usr/bin/pebble-challtestsrv -http01 '' -https01 '' -tlsalpn01 '' -dns01 127.0.0.1:8053 -management 127.0.0.1:8055 -defaultIPv4 127.0.0.1 -defaultIPv6 ''`);
    await ct.ok(`systemd-run --unit=pebble -E PEBBLE_VA_NOSLEEP=1 -E PEBBLE_AUTHZREUSE=0 -E PEBBLE_WFE_NONCEREJECT=0 /usr/bin/pebble -config ${FILES}/pebble.json -dnsserver 127.0.0.1:8053`);
    // PostgreSQL's Debian cluster and Redis, each with a password.
    await ct.ok(`echo 'requirepass ${REDIS_PASSWORD}' >> /etc/redis/redis.conf && systemctl start redis-server postgresql`, 60_000);
    await ct.waitFor('PostgreSQL accepting connections', async () => ((await ct.sh('pg_isready -q -h 127.0.0.1')).code === 0 ? true : undefined), 30_000);
    await ct.ok(`runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -c "create role app login password '${PG_PASSWORD}'" -c "create database app owner app"`);
    await psql(`create table orders (id int primary key, item text); insert into orders select g, 'item ' || g from generate_series(1, 500) g`);
    await ct.ok(`for i in $(seq 1 100); do echo "SET key:$i value-$i"; done | redis-cli --no-auth-warning -a ${REDIS_PASSWORD} >/dev/null`);
    await ct.waitFor('pebble directory', async () => ((await ct.sh(`curl -sf --cacert ${FILES}/ca.pem https://127.0.0.1:14000/dir`)).code === 0 ? true : undefined), 15_000);

    assert.match(await ct.ok(`ps -o user= -C nginx | sort | uniq -c`), /root[\s\S]*www-data|www-data[\s\S]*root/);
    assert.match(await ct.ok(`curl -sS --max-time 5 http://127.0.0.1/health`), /"ok":true/);
    assert.match(await ct.ok(`redis-cli PING 2>&1 || true`), /NOAUTH/);
    assert.equal(await redisCli('DBSIZE'), '100');

    // caretaker's side, as docs/install.md says: secrets in /etc/credstore (0600 root), a drop-in
    // with LoadCredential=, the pebble CA readable by the service.
    await ct.ok(`install -d -m 0700 /etc/credstore && printf '%s' '${PG_PASSWORD}' > /etc/credstore/pg-password && printf '%s' '${REDIS_PASSWORD}' > /etc/credstore/redis-password && chmod 0600 /etc/credstore/*`);
    await ct.ok(`install -D -m 0644 /dev/stdin /etc/systemd/system/caretaker.service.d/credentials.conf <<'EOF'\n[Service]\nLoadCredential=pg-password\nLoadCredential=redis-password\nEOF\nsystemctl daemon-reload`);
    await ct.ok(`install -m 0640 -g caretaker ${FILES}/ca.pem /etc/caretaker/pebble-ca.pem && install -d -m 0755 /etc/letsencrypt`);
    await writeConfig(caretakerConfig());
  });

  test('13.5: a systemctl deploy command for a unit install.sh was not told about is refused by check-config, naming the fix', async () => {
    const check = await ct.sh('caretaker check-config');
    assert.equal(check.code, 78, output(check));
    assert.match(check.stdout + check.stderr, /systemctl reload nginx/, output(check));
    assert.match(check.stdout + check.stderr, /install\.sh --allow-unit nginx\.service/, output(check));
  });

  test('13.3 + 13.5: install.sh --allow-unit nginx.service; root check-config reads ${credential:} from /etc/credstore', async () => {
    const install = await ct.sh(`cd ${release.unpacked} && ./install.sh --allow-unit nginx.service`, 120_000);
    // Restarted either way: the drop-in's LoadCredential= needs a new process.
    await ct.ok(`systemctl restart ${UNIT}`, 60_000);
    assert.equal(install.code, 0, output(install));
    assert.equal(await ct.ok(`grep -v '^#' /etc/caretaker/allowed-units`), 'nginx.service');
    assert.equal(await ct.ok('stat -c "%a %U:%G" /etc/caretaker/allowed-units'), '640 root:caretaker');
    assert.match(await ct.ok('cat /etc/polkit-1/rules.d/50-caretaker.rules'), /nginx\.service/);
    const check = await ct.sh('caretaker check-config');
    assert.equal(check.code, 0, output(check));
    assert.match(check.stdout, /ok \(modules: .*certificates/);
  });

  test('13.1 + 13.5: the first certificate is issued through nginx (www-data reads the challenge) and deployed with systemctl reload nginx', async () => {
    const view = await waitForCert(DOMAIN, ['valid', 'failed']);
    const modes = await ct.ok('stat -c "%n %a %U" /var/www/certbot/.well-known /var/www/certbot/.well-known/acme-challenge');
    assert.equal(view.state, 'valid', `${view.lastError}\n${modes}`);
    assert.equal(modes, '/var/www/certbot/.well-known 755 caretaker\n/var/www/certbot/.well-known/acme-challenge 755 caretaker');
    // pebble fetched the token through nginx's workers (www-data): the token file was readable.
    assert.match(await ct.ok('cat /var/log/nginx/access.log'), /"GET \/\.well-known\/acme-challenge\/\S+ HTTP\/1\.1" 200 /);
    assert.equal(view.deploy?.ok, true, JSON.stringify(view.deploy));
  });

  test('13.5: a renewal deployed with `systemctl reload nginx` reloads nginx\'s master, which serves the new certificate', async () => {
    await ct.ok(`cp ${FILES}/shop-tls.conf /etc/nginx/sites-enabled/ && systemctl reload nginx`);
    const first = await cert(DOMAIN);
    const served = () => ct.ok(SERVED_SERIAL).then((serial) => serial.toUpperCase());
    assert.equal(await ct.waitFor('nginx serving the first certificate', async () => ((await served()) === first.serial?.toUpperCase() ? first.serial : undefined), 10_000), first.serial);
    const master = (await ct.show('nginx.service', ['MainPID'])).MainPID;
    const workers = async () => (await ct.ok(`pgrep -P ${master} | sort`)).split('\n');
    const workersBefore = await workers();

    const renew = await ct.sh(`caretaker certs renew ${DOMAIN}`, 90_000);
    assert.equal(renew.code, 0, output(renew));
    const renewed = await cert(DOMAIN);
    assert.notEqual(renewed.serial, first.serial);
    assert.equal(renewed.deploy?.ok, true, JSON.stringify(renewed.deploy));
    // A reload: the same master, all new workers (the old ones finish their requests and exit).
    assert.equal((await ct.show('nginx.service', ['MainPID'])).MainPID, master);
    await ct.waitFor('new nginx workers', async () => ((await workers()).every((pid) => !workersBefore.includes(pid)) ? true : undefined), 10_000);
    await ct.waitFor('nginx serving the renewed certificate', async () => ((await served()) === renewed.serial?.toUpperCase() ? true : undefined), 10_000);
    // The chain nginx serves verifies against pebble's root.
    await ct.ok(`curl -sSk https://127.0.0.1:15000/roots/0 > /root/pebble-root.pem && curl -sS --max-time 5 --cacert /root/pebble-root.pem --resolve ${DOMAIN}:443:127.0.0.1 https://${DOMAIN}/health`);
  });

  test('probes: Redis and PostgreSQL with passwords from LoadCredential=, the API through nginx', async () => {
    const probes = await everyProbeUp();
    assert.deepEqual(probes.map((p) => p.name).sort(), ['api', 'pg', 'redis']);
  });

  test('13.3: backups of PostgreSQL and Redis, verified and restored from a root shell with the credentials', async () => {
    for (const job of ['pg-app', 'redis']) {
      const run = await ct.sh(`caretaker backups run ${job}`, 60_000);
      assert.match(run.stdout, /succeeded/, output(run));
    }
    for (const job of ['pg-app', 'redis']) {
      const verify = await ct.sh(`caretaker backups verify ${job} latest`, 60_000);
      assert.equal(verify.code, 0, output(verify));
      assert.doesNotMatch(verify.stdout, /unknown/, `13.6: the tool version is read (${job})`);
    }
    const digest = await ordersDigest();
    await psql('delete from orders where id > 250');
    await redisCli(`DEL ${Array.from({ length: 50 }, (_, i) => `key:${i + 1}`).join(' ')}`);
    for (const job of ['pg-app', 'redis']) {
      const restore = await ct.sh(`caretaker backups restore ${job} latest --yes`, 90_000);
      assert.equal(restore.code, 0, output(restore));
    }
    assert.equal(await ordersDigest(), digest);
    assert.equal(await redisCli('DBSIZE'), '100');
    assert.equal(await redisCli('GET key:7'), 'value-7');
  });

  test('20: caretaker doctor on this setup has no failure; a webroot www-data cannot read fails its line with the fix', async () => {
    // The domain resolves here, as a real server's DNS record would make it.
    await ct.ok(`grep -q ' ${DOMAIN}$' /etc/hosts || echo '127.0.0.1 ${DOMAIN}' >> /etc/hosts`);
    const good = await ct.sh('caretaker doctor', 60_000);
    assert.equal(good.code, 0, output(good));
    assert.match(good.stdout, /^ok {4}sandbox .*caretaker\.service runs as caretaker/m);
    assert.match(good.stdout, new RegExp(`^ok {4}http-01 ${DOMAIN.replace('.', '\\.')} .*serves the challenge from the webroot`, 'm'));
    assert.match(good.stdout, /^ok {4}webroot \S+ +www-data \(the web server\) reads \/var\/www\/certbot/m);
    assert.match(good.stdout, /^ok {4}pg_dump pg-app /m);
    await ct.ok('chmod 0700 /var/www/certbot');
    try {
      const bad = await ct.sh('caretaker doctor', 60_000);
      assert.equal(bad.code, 1, output(bad));
      assert.match(bad.stdout, /^fail {2}webroot \S+ +www-data \(the web server\) cannot read \/var\/www\/certbot\/\.well-known\/acme-challenge\/caretaker-doctor-\S+: the CA would get 403\n +fix: chmod o\+rx/m);
    } finally {
      await ct.ok('chmod 0755 /var/www/certbot');
    }
    assert.equal(await ct.ok("stat -c '%U %a' /var/www/certbot/.well-known/acme-challenge"), 'caretaker 755', 'the self-test leaves the challenge directory as the service would');
  });

  test('16: the installed service tells the webhook once when Redis goes down and once when it is back; the backup job pinged its heartbeat', async () => {
    interface Received {
      method: string;
      url: string;
      body: string;
    }
    const received = async () =>
      (await ct.ok('cat /var/lib/e2e-receiver/requests.jsonl 2>/dev/null || true'))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Received);
    const about = (status: string) => async () =>
      (await received()).filter((r) => r.url === '/hook').filter((r) => {
        const body = JSON.parse(r.body) as { alerts?: Array<{ key: string; status: string }> };
        return body.alerts?.some((a) => a.key === 'probe:redis:down' && a.status === status);
      });
    const pings = (await received()).filter((r) => r.url.startsWith('/hb/pg-app')).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(pings.slice(0, 2), ['POST /hb/pg-app/start', 'POST /hb/pg-app'], 'the backup run of 13.3 pinged start, then success');

    await ct.ok('systemctl stop redis-server', 30_000);
    try {
      await ct.waitFor('the webhook told redis is down', async () => ((await about('firing')()).length > 0 ? true : undefined), 45_000);
    } finally {
      await ct.ok('systemctl start redis-server', 30_000);
    }
    await ct.waitFor('the webhook told redis is back', async () => ((await about('resolved')()).length > 0 ? true : undefined), 45_000);
    assert.equal((await about('firing')()).length, 1, 'one message while it was down, not one per check');
    await everyProbeUp();
  });

  test(`nginx logs rotate under load (${LOAD_REQUESTS} requests): no line lost; the last rotation is still shown after a restart`, async () => {
    const countIn = (files: string, unique = '-u') => ct.ok(`zcat -f ${files} 2>/dev/null | grep -o 'GET /orders?i=[0-9]*' | sort ${unique} | wc -l`);
    const load = ct.sh(`node /opt/e2e/load.js ${LOAD_REQUESTS} 8`, 90_000);
    await ct.waitFor('a quarter of the load logged', async () => (Number(await countIn('/var/log/nginx/access.log')) >= LOAD_REQUESTS / 4 ? true : undefined), 30_000);
    const rotate = await ct.sh('caretaker logs rotate nginx', 30_000);
    const result = await load;
    assert.equal(rotate.code, 0, output(rotate));
    assert.deepEqual(JSON.parse(result.stdout), { sent: LOAD_REQUESTS, ok: LOAD_REQUESTS }, output(result));
    await ct.ok('sleep 0.5');
    const files = (await ct.ok('ls /var/log/nginx')).split('\n');
    assert.ok(files.some((f) => /^access\.log-\d/.test(f)), `a rotated access log: ${files.join(' ')}`);
    assert.equal(Number(await countIn('/var/log/nginx/access.log*')), LOAD_REQUESTS, 'every request logged, in the old or the new file');
    assert.equal(Number(await countIn('/var/log/nginx/access.log*', '')), LOAD_REQUESTS, 'and logged once');
    assert.ok(Number(await countIn('/var/log/nginx/access.log')) > 0, 'nginx reopened: the new file gets lines');
    assert.equal(await ct.ok('stat -c "%U:%G %a" /var/log/nginx/access.log'), 'www-data:adm 640');

    // 13.6: the kept state says when the last rotation was, after a restart too.
    await ct.ok(`systemctl restart ${UNIT}`, 60_000);
    const logs = await ct.ok('caretaker logs');
    assert.doesNotMatch(logs.split('\n').find((line) => line.startsWith('nginx')) ?? '', /never/, logs);
    await everyProbeUp();
  });

  test('Prometheus with contrib/prometheus/ scrapes the agent and evaluates the rules', async () => {
    await ct.ok(`install -m 0644 ${FILES}/prometheus.yml ${FILES}/alerts.yml /etc/prometheus/ && promtool check config /etc/prometheus/prometheus.yml && systemctl restart prometheus`, 60_000);
    const api = (path: string) => json<{ data: unknown }>(`http://127.0.0.1:9090/api/v1/${path}`);
    await ct.waitFor('the caretaker target up', async () => {
      const { data } = (await api('targets?state=active')) as { data: { activeTargets: Array<{ labels: { job: string }; health: string }> } };
      return data.activeTargets.some((t) => t.labels.job === 'caretaker' && t.health === 'up') ? true : undefined;
    }, 30_000);
    const groups = await ct.waitFor('every rule evaluated', async () => {
      const { data } = (await api('rules')) as { data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastEvaluation: string }> }> } };
      const rules = data.groups.flatMap((g) => g.rules);
      return rules.length > 0 && rules.every((r) => !r.lastEvaluation.startsWith('0001')) ? data.groups : undefined;
    }, 30_000);
    const broken = groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok');
    assert.deepEqual(broken, []);
    assert.ok(groups.some((g) => g.name === 'caretaker-probes'));
    const { data } = (await api('query?query=caretaker_probe_up')) as { data: { result: Array<{ value: [number, string] }> } };
    assert.deepEqual(data.result.map((r) => r.value[1]), ['1', '1', '1']);
  });

  test('13.2: systemctl reload with a broken config fails, and the refusal shows in status, /status, /health/deep and the metric until a good config loads', async () => {
    const pid = await mainPid();
    const good = caretakerConfig();
    await writeConfig(good.replace('keepLast: 3', 'keepLast: three'));
    try {
      const reload = await ct.sh(`systemctl reload ${UNIT}`, 60_000);
      assert.notEqual(reload.code, 0, `systemctl reload of a broken config: ${output(reload)}`);
      const direct = await ct.sh('caretaker reload', 30_000);
      assert.equal(direct.code, 78, output(direct));
      assert.match(direct.stderr, /keepLast/, output(direct));

      const status = await ct.sh('caretaker status');
      assert.equal(status.code, 1, output(status));
      assert.match(status.stdout, /^config: reload refused/m, output(status));
      const refused = await lastReload('/status');
      assert.equal(refused?.ok, false, JSON.stringify(refused));
      assert.ok(refused?.issues?.some((i) => `${i.path}: ${i.message}`.includes('keepLast')), JSON.stringify(refused));
      assert.equal((await lastReload('/health/deep'))?.ok, false);
      await waitForMetric('caretaker_config_last_reload_successful 0');
      // The running config stays: the same process, every module still there.
      assert.equal(await mainPid(), pid);
      assert.equal((await ct.show(UNIT, ['ActiveState'])).ActiveState, 'active');
    } finally {
      await writeConfig(good);
      await ct.sh(`systemctl reload ${UNIT}`, 60_000);
    }
    const fixed = await ct.waitFor('the good config loaded', async () => {
      const reload = await lastReload('/status');
      return reload?.ok ? reload : undefined;
    }, 15_000);
    assert.equal(fixed.ok, true);
    await waitForMetric('caretaker_config_last_reload_successful 1');
    const status = await ct.sh('caretaker status');
    assert.equal(status.code, 0, output(status));
    assert.doesNotMatch(status.stdout, /reload refused/);
  });

  test('13.4: journald sees SYSLOG_IDENTIFIER=caretaker, and the refused reload at priority err', async () => {
    const entries = (await ct.ok(`journalctl _SYSTEMD_UNIT=${UNIT} -o json --no-pager -n 300`))
      .split('\n')
      .map((line) => JSON.parse(line) as { SYSLOG_IDENTIFIER?: string; PRIORITY?: string; MESSAGE?: string });
    const identifiers = [...new Set(entries.map((e) => e.SYSLOG_IDENTIFIER))];
    assert.deepEqual(identifiers, ['caretaker']);
    const errors = await ct.ok(`journalctl -u ${UNIT} -p err -o cat --no-pager`);
    assert.match(errors, /reload refused/);
    assert.ok(entries.some((e) => e.PRIORITY === '6'), 'info lines stay at priority 6');
  });

  test('13.6: a webroot outside ReadWritePaths names the read-only sandbox and the drop-in; a never-issued certificate makes `caretaker certs` exit 1; a PostgreSQL probe without the password says auth', async () => {
    await ct.ok('install -d -m 0755 /srv/acme');
    const sandboxed = '    - { name: sandboxed, domains: [sandboxed.test], challenge: { type: http-01, webroot: /srv/acme } }';
    const noPassword = '  - { name: pg-no-password, type: postgres, url: "postgres://app@127.0.0.1:5432/app", interval: 2s }\n';
    await writeConfig(caretakerConfig(sandboxed).replace('probes:\n', `probes:\n${noPassword}`));
    try {
      const reload = await ct.sh(`systemctl reload ${UNIT}`, 60_000);
      const view = reload.code === 0 ? await waitForCert('sandboxed', ['failed']) : undefined;
      const message = `${view?.lastError ?? ''}${reload.stdout}${reload.stderr}`;
      assert.match(message, /read-only/i, message);
      assert.match(message, /ReadWritePaths=/, message);
      assert.match(message, /systemctl edit caretaker|drop-in/, message);
      const certs = await ct.sh('caretaker certs');
      assert.equal(certs.code, 1, output(certs));
      const probe = await ct.waitFor('the probe without a password checked', async () => (await json<ProbeView>(admin('/probes/pg-no-password'))).last ?? undefined, 15_000);
      assert.equal(probe.reason, 'auth', probe.message);
    } finally {
      await writeConfig(caretakerConfig());
      await ct.sh(`systemctl reload ${UNIT}`, 60_000);
    }
  });

  test(`13: systemd-analyze security caretaker is still <= ${MAX_EXPOSURE} with the drop-in and the allowed unit`, async () => {
    const report = await ct.ok(`systemd-analyze security --no-pager ${UNIT}`);
    const exposure = exposureOf(report);
    console.log(`systemd-analyze security ${UNIT} in the production scenario: ${exposure}`);
    assert.ok(exposure <= MAX_EXPOSURE, report);
  });

  test('13.5 + 13.6: --purge without a terminal asks for --yes and deletes nothing; --uninstall removes the polkit rule', async () => {
    const purge = await ct.sh(`cd ${release.unpacked} && ./install.sh --purge </dev/null`, 60_000);
    assert.notEqual(purge.code, 0, output(purge));
    assert.match(purge.stderr, /--yes/, output(purge));
    assert.notEqual(await ct.ok('ls /var/backups/caretaker/pg-app /var/backups/caretaker/redis | grep -c json'), '0');
    assert.equal((await ct.show(UNIT, ['ActiveState'])).ActiveState, 'active');
    await ct.ok(`cd ${release.unpacked} && ./install.sh --uninstall`, 60_000);
    assert.equal(await ct.ok('ls /etc/polkit-1/rules.d/50-caretaker.rules 2>/dev/null | wc -l'), '0');
    assert.equal(await ct.ok(`cmp ${FILES}/caretaker.yaml ${CONFIG} && echo kept`), 'kept');
  });
});
