import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { modules } from '../../src/modules/index.js';
import { requireBinaries } from '../harness/deps.js';
import { freePort } from '../harness/ports.js';
import { startPebble, type PebbleServer } from '../harness/pebble.js';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';

const run = promisify(execFile);
const TOKEN = 'status-page-token-0123456789';
const { chromium } = requireBinaries(['chromium']);

let dir: TempDir;
let redis: RedisServer;
let pg: PostgresServer;
let pebble: PebbleServer;
let t: TestAgent;

const bearer = { authorization: `Bearer ${TOKEN}` };

async function json<T>(path: string): Promise<T> {
  const res = await fetch(t.adminUrl(path), { headers: bearer });
  assert.equal(res.status, 200, path);
  return (await res.json()) as T;
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Debian's chromium, headless: the DOM after the page's script ran (or a screenshot), in a fresh profile each time. */
async function browse(url: string, extra: string[] = ['--dump-dom']): Promise<string> {
  const profile = await makeTempDir('chromium-profile');
  try {
    const { stdout } = await run(
      chromium,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', `--user-data-dir=${profile.path}`, '--virtual-time-budget=6000', '--window-size=1280,900', ...extra, url],
      { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout;
  } finally {
    await profile.cleanup();
  }
}

/** The text of the `data-k` cell in the row `data-row` of section `id`, and its `data-v`. */
function cellOf(dom: string, id: string, row: string, key: string): { text: string; value: string | undefined } {
  const section = new RegExp(`<section id="${id}"[^>]*>([\\s\\S]*?)</section>`).exec(dom)?.[1];
  assert.ok(section, `section ${id} rendered`);
  const tr = new RegExp(`<tr data-row="${row}">([\\s\\S]*?)</tr>`).exec(section)?.[1];
  assert.ok(tr, `row ${row} in ${id}`);
  const td = new RegExp(`<td data-k="${key}"(?: data-v="([^"]*)")?[^>]*>([^<]*)</td>`).exec(tr);
  assert.ok(td, `cell ${key} of ${row}`);
  return { text: td[2]!, value: td[1] };
}

before(async () => {
  dir = await makeTempDir('status-page');
  [redis, pg, pebble] = await Promise.all([startRedis(), startPostgres(), startPebble()]);
  await pg.psql('CREATE TABLE t (v text)');
  await writeFile(join(dir.path, 'app.log'), 'x'.repeat(1234));
  const dead = await freePort();
  t = await startTestAgent(
    (root) =>
      `agent: { stateDir: ${join(root, 'state')} }\n` +
      `admin: { listen: "127.0.0.1:0", token: "${TOKEN}", allowRemote: true }\n` +
      `metrics: { listen: "127.0.0.1:0", host: false }\n` +
      `cluster: { redis: "${redis.url}", name: page, leaseTtl: 2s, encryptionKey: "a-cluster-key-of-at-least-32-characters" }\n` +
      `probes:\n  - { name: cache, type: redis, url: "${redis.url}", interval: 1s }\n  - { name: gone, type: tcp, address: "127.0.0.1:${dead}", interval: 1s }\n` +
      `backups:\n  dir: ${join(dir.path, 'backups')}\n  jobs:\n    - { name: pg, type: postgres, url: "${pg.url}", schedule: "0 3 1 1 *", compress: 0 }\n` +
      `logs:\n  - { name: app, paths: ["${join(dir.path, 'app.log')}"], rotate: { every: daily }, keep: 3 }\n` +
      `certificates:\n  dir: ${join(dir.path, 'le')}\n  acme: { directory: "${pebble.directoryUrl}", email: ops@example.com, caBundle: ${pebble.ca}, requestTimeout: 5s, profile: tlsserver }\n` +
      `  certs:\n    - { name: app, domains: [app.example.com], challenge: { type: http-01, standalone: { address: 127.0.0.1, port: ${pebble.httpPort} } } }\n` +
      `alerts:\n  group: 0s\n  channels:\n    - { name: hook, type: webhook, url: "http://127.0.0.1:${dead}/hook" }\n`,
    modules,
  );
  await until('every configured module running', async () =>
    (await json<{ modules: Array<{ name: string; state: string }> }>('/status')).modules.every((m) => m.state === 'running'),
  );
  await until('the certificate issued by pebble', async () => (await json<{ certificates: Array<{ state: string }> }>('/certs')).certificates[0]?.state === 'valid', 60_000);
  // Three runs of growing size, so the chart has three bars.
  for (let i = 1; i <= 3; i++) {
    await pg.psql(`INSERT INTO t SELECT repeat('x', 1000) FROM generate_series(1, ${i * 200})`);
    const res = await fetch(t.adminUrl('/backups/pg/run'), { method: 'POST', headers: bearer });
    assert.equal(res.status, 202, await res.text());
    await until(`backup ${i}`, async () => {
      const job = await json<{ files: number; running: unknown }>('/backups/pg');
      return job.files === i && job.running === null;
    });
  }
  await until('probes checked at least thrice, gone firing', async () => {
    const { probes } = await json<{ probes: Array<{ recentLatencyMs: unknown[] }> }>('/probes');
    const { firing } = await json<{ firing: unknown[] }>('/alerts');
    return probes.every((p) => p.recentLatencyMs.length >= 3) && firing.length > 0;
  });
});
after(async () => {
  await t?.close();
  await Promise.all([redis?.stop(), pg?.stop(), pebble?.stop()]);
  await dir?.cleanup();
});

test('the page rendered by headless Chromium shows the numbers the JSON routes answer, through the cookie the token URL sets', async () => {
  const dom = await browse(t.adminUrl(`/?token=${TOKEN}`));
  assert.match(dom, /<body data-rendered="\d+">/, 'the script ran and rendered at least once');
  assert.match(dom, /<p id="problem" class="bad" hidden="">/, 'no refresh failed');
  assert.match(dom, /<b id="version">0\.0\.0-test<\/b>/);

  const cache = cellOf(dom, 'probes', 'cache', 'status');
  assert.equal(cache.text, 'up');
  assert.equal(cellOf(dom, 'probes', 'gone', 'status').text, 'down');
  assert.match(cellOf(dom, 'probes', 'gone', 'reason').text, /^refused: /);
  assert.match(cellOf(dom, 'probes', 'cache', 'latency').text, /^\d+\.\d ms$/);
  const spark = /<tr data-row="cache">[\s\S]*?data-k="sparkline" data-n="(\d+)"/.exec(dom);
  assert.ok(spark && Number(spark[1]) >= 3, 'the sparkline has a point per check so far');

  const job = await json<{ backups: Array<{ sizeBytes: number; time: string }>; lastSuccessAt: string }>('/backups/pg');
  const newest = [...job.backups].sort((a, b) => Date.parse(a.time) - Date.parse(b.time)).at(-1)!;
  assert.equal(cellOf(dom, 'backups', 'pg', 'state').text, 'ok');
  assert.equal(cellOf(dom, 'backups', 'pg', 'files').text, '3');
  assert.equal(cellOf(dom, 'backups', 'pg', 'size').value, String(newest.sizeBytes));
  assert.equal(cellOf(dom, 'backups', 'pg', 'lastSuccess').value, job.lastSuccessAt);
  const bars = /<tr data-row="pg">[\s\S]*?data-k="sizes" data-n="3"[^>]*>([\s\S]*?)<\/svg>/.exec(dom);
  assert.ok(bars, 'one bar per backup');
  const heights = [...bars[1]!.matchAll(/height="(\d+)"/g)].map((m) => Number(m[1]));
  assert.deepEqual([...heights].sort((a, b) => a - b), heights, 'bars grow with the backups');

  assert.equal(cellOf(dom, 'logs', 'app', 'bytes').value, '1234');
  assert.equal(cellOf(dom, 'logs', 'app', 'lastRotation').text, 'never');
  assert.equal(cellOf(dom, 'alerts', 'probe:gone:down', 'summary').text, 'gone is down');
  const [cert] = (await json<{ certificates: Array<{ notAfter: string; nextRenewalAt: string }> }>('/certs')).certificates;
  const days = Number(cellOf(dom, 'certs', 'app', 'days').value);
  assert.ok(Math.abs(days - (Date.parse(cert!.notAfter) - Date.now()) / 86_400_000) < 1.01, `days left ${days} for ${cert!.notAfter}`);
  assert.equal(cellOf(dom, 'certs', 'app', 'state').text, 'valid');
  assert.equal(cellOf(dom, 'certs', 'app', 'profile').text, 'tlsserver');
  assert.match(cellOf(dom, 'certs', 'app', 'next').text, /^in \d+ (d|h|min)/);
  assert.doesNotMatch(dom, new RegExp(TOKEN), 'the token is nowhere in the page');

  const shot = join(dir.path, 'status-page.png');
  await browse(t.adminUrl(`/?token=${TOKEN}`), [`--screenshot=${shot}`]);
  assert.equal((await readFile(shot)).subarray(1, 4).toString(), 'PNG');
  if (process.env.STATUS_PAGE_SCREENSHOT) await copyFile(shot, process.env.STATUS_PAGE_SCREENSHOT);
});

test('without the token the page answers 401 with a form, in the browser too; a wrong token is 401', async () => {
  const res = await fetch(t.adminUrl('/'));
  assert.equal(res.status, 401);
  assert.match(res.headers.get('content-type')!, /^text\/html/);
  assert.match(await res.text(), /<form method="get" action="\/">/);
  assert.equal((await fetch(t.adminUrl('/?token=wrong-token-0123456789'))).status, 401);
  const dom = await browse(t.adminUrl('/'));
  assert.match(dom, /<input type="password" name="token"/);
  assert.doesNotMatch(dom, /data-rendered/);
});

test('the cookie: HttpOnly, SameSite=Strict, not the token; JSON routes take it for reads only', async () => {
  const res = await fetch(t.adminUrl(`/?token=${TOKEN}`), { redirect: 'manual' });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/');
  const setCookie = res.headers.get('set-cookie')!;
  assert.match(setCookie, /; Path=\/; HttpOnly; SameSite=Strict;/);
  assert.doesNotMatch(setCookie, new RegExp(TOKEN));
  const cookie = { cookie: setCookie.split(';')[0]! };
  assert.equal((await fetch(t.adminUrl('/'), { headers: cookie })).status, 200);
  assert.equal((await fetch(t.adminUrl('/probes'), { headers: cookie })).status, 200);
  assert.equal((await fetch(t.adminUrl('/probes'))).status, 401, 'allowRemote: every route needs the token');
  assert.equal((await fetch(t.adminUrl('/probes'), { headers: { cookie: `caretaker_page=${TOKEN}` } })).status, 401, 'the raw token is not the cookie');
  const post = await fetch(t.adminUrl('/probes/cache/check'), { method: 'POST', headers: cookie });
  assert.equal(post.status, 401, 'the cookie changes nothing');
  const page = await fetch(t.adminUrl('/'), { headers: cookie });
  const csp = page.headers.get('content-security-policy')!;
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'sha256-/);
  assert.match(csp, /frame-ancestors 'none'/);
});
