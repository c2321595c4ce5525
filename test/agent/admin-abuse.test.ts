// caretaker-test: run-alone (it measures /health latency while the admin API is abused)
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { freePort } from '../harness/ports.js';
import { spawnCaretaker, type AgentProcess } from '../helpers/spawn.js';

const TOKEN = 'abuse-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
const json = { 'content-type': 'application/json' };

let dir: string;
let agent: AgentProcess;
let port: number;

before(async () => {
  [dir, port] = await Promise.all([mkdtemp(join(tmpdir(), 'caretaker-abuse-')), freePort()]);
  const metrics = await freePort();
  await writeFile(join(dir, 'app.log'), 'one line\n');
  const config = [
    `agent: { stateDir: ${dir}/state }`,
    `admin: { listen: "127.0.0.1:${port}", token: ${TOKEN} }`,
    `metrics: { listen: "127.0.0.1:${metrics}", host: false }`,
    'probes:',
    `  - { name: self, type: tcp, address: "127.0.0.1:${metrics}", interval: 1s, timeout: 900ms }`,
    'logs:',
    `  - { name: app, paths: [${dir}/app.log], rotate: { maxSize: 1MiB } }`,
  ].join('\n');
  await writeFile(join(dir, 'caretaker.yaml'), `${config}\n`);
  agent = spawnCaretaker(['run', '--config', join(dir, 'caretaker.yaml')]);
  await agent.waitForLine((line) => line.msg === 'agent ready');
});

after(async () => {
  agent?.child.kill('SIGKILL');
  await agent?.exited;
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Probe {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The server may close before the client has sent everything (a body far past the limit). */
  mayReset?: boolean;
}
type Outcome = { status: number } | { error: string };

function send({ method = 'GET', path, headers = {}, body }: Probe): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
    req.end(body);
  });
}

/** Bytes straight onto a socket; the status line of whatever comes back ('' when the server closes without one). */
function raw(text: string | Buffer, holdMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(text);
      if (holdMs === 0) socket.end();
      else setTimeout(() => socket.end(), holdMs);
    });
    let received = '';
    socket.on('data', (chunk) => (received += String(chunk)));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(received.split('\r\n')[0] ?? ''));
    socket.setTimeout(20_000, () => socket.destroy());
  });
}

const failures: string[] = [];
const tally = { requests: 0, byStatus: new Map<number, number>() };

/** Sends `probes`, `inFlight` at a time (a client hammering the API, not one burst), and records what broke. */
async function expectNo5xx(label: string, probes: Probe[], allowed: (status: number) => boolean = (s) => s < 500, inFlight = 4): Promise<void> {
  const outcomes: Outcome[] = [];
  let next = 0;
  const lane = async () => {
    while (next < probes.length) {
      const i = next++;
      outcomes[i] = await send(probes[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, probes.length) }, lane));
  outcomes.forEach((outcome, i) => {
    const probe = probes[i]!;
    tally.requests += 1;
    if ('error' in outcome) {
      if (!probe.mayReset) failures.push(`${label}: ${probe.method ?? 'GET'} ${probe.path.slice(0, 80)} → ${outcome.error}`);
      return;
    }
    tally.byStatus.set(outcome.status, (tally.byStatus.get(outcome.status) ?? 0) + 1);
    if (!allowed(outcome.status)) failures.push(`${label}: ${probe.method ?? 'GET'} ${probe.path.slice(0, 80)} → ${outcome.status}`);
  });
}

const is4xx = (status: number) => status >= 400 && status < 500;

const unknownRoutes = (): Probe[] => {
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'SEARCH'];
  const paths = ['/nope', '/status/extra', '/admin', '/.env', '/.git/config', '/api/v1/status', '/health/deep/x', '/reload/now', '/*', '/%', '/%%32%65', '/?a=b&a=c', `/x?${'q'.repeat(4_000)}`, '/' + 'a/'.repeat(500), '/openapi.json/..', '/certs/x/y/z', '/logs/app/rotate/again', '/probes/self/x', '/;', '/\u00e9t\u00e9'];
  return methods.flatMap((method) => paths.map((path) => ({ method, path: encodeURI(path), ...(method === 'GET' || method === 'HEAD' ? {} : { headers: auth }) })));
};

const traversal = (): Probe[] => {
  const names = ['..%2f..%2fetc', '..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%5c..%5cwindows', '%252e%252e%252fetc', '....%2f%2f....%2f%2fetc', '%c0%ae%c0%ae%2fetc', '..%00', '%00', '..;%2fetc', 'app%2f..%2f..%2fstate', '~root', '%24(id)', '%3B%20rm%20-rf%20%2F', 'a'.repeat(101), '%F0%9F%92%A9', '%E0%A4%A', 'app%0d%0aX-Injected:%201', '.', '..'];
  const prefixes: Array<[string, string, string]> = [
    ['/certs', '', '/renew'],
    ['/backups', '', '/run'],
    ['/probes', '', ''],
    ['/logs', '', '/rotate'],
  ];
  return prefixes.flatMap(([prefix, , action]) =>
    names.flatMap((name) => [
      { path: `${prefix}/${name}` },
      ...(action ? [{ method: 'POST', path: `${prefix}/${name}${action}`, headers: auth }] : []),
    ]),
  );
};

const badBodies = (): Probe[] => {
  const texts = ['{', '{"a":', '[1,2', 'null', '"x"', '1e999999', '{"__proto__": {"admin": true}}', '{"constructor": {"prototype": {"x": 1}}}', '{"a":"\u0000"}', '\u0000\u0001\u0002', 'true', '[]', '{"a":1,"a":2}', '\ufeff{}', '{"a": NaN}', "{'a': 1}", '{"a":1}garbage', '[' .repeat(100_000), '{"a":'.repeat(10_000), ' '.repeat(60_000)];
  const routes = ['/reload', '/logs/app/rotate', '/backups/x/run', '/certs/x/renew'];
  const probes: Probe[] = routes.flatMap((path) => texts.map((body) => ({ method: 'POST', path, headers: { ...auth, ...json }, body })));
  const types = ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=z', 'application/json-patch+json', 'application/jsonx', ''];
  for (const type of types) probes.push({ method: 'POST', path: '/reload', headers: { ...auth, ...(type ? { 'content-type': type } : {}) }, body: '{}' });
  probes.push({ method: 'POST', path: '/reload', headers: { ...auth, ...json }, body: Buffer.from([0xff, 0xfe, 0x7b, 0x7d]) });
  for (const size of [65 * 1024, 1024 * 1024, 8 * 1024 * 1024]) {
    probes.push({ method: 'POST', path: '/reload', headers: { ...auth, ...json }, body: JSON.stringify({ a: 'x'.repeat(size) }), mayReset: true });
  }
  return probes;
};

const rawBodies = (): string[] => [
  `POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{}`,
  `POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
  `POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
  `POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n`,
  `POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
  `GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n${'X-A: b\r\n'.repeat(3_000)}\r\n`,
  'GET /status HTTP/9.9\r\n\r\n',
  'GET\r\n\r\n',
  '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',
  `GET /${'%'.repeat(10)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
];

const tokens = (): Probe[] => {
  const headers: Array<Record<string, string>> = [
    {},
    { authorization: '' },
    { authorization: 'Bearer' },
    { authorization: 'Bearer ' },
    { authorization: 'Bearer wrong' },
    { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
    { authorization: `Bearer ${TOKEN}x` },
    { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` },
    { authorization: TOKEN },
    { authorization: `Bearer ${'x'.repeat(10_000)}` },
    { authorization: 'Bearer \u00e9\u00e9\u00e9' },
    { 'x-admin-token': TOKEN },
  ];
  const routes = ['/reload', '/logs/app/rotate', '/backups/x/run', '/certs/x/renew'];
  const probes: Probe[] = routes.flatMap((path) => headers.map((h) => ({ method: 'POST', path, headers: h })));
  probes.push({ method: 'POST', path: `/reload?token=${TOKEN}` });
  return probes;
};

const crossOrigin = (): Probe[] => {
  const browser = { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'content-type': 'text/plain;charset=UTF-8' };
  const routes = ['/reload', '/logs/app/rotate', '/backups/x/run', '/certs/x/renew', '/probes/self'];
  const probes: Probe[] = [];
  for (const path of routes) {
    probes.push({ method: 'POST', path, headers: browser, body: '{}' });
    probes.push({ method: 'POST', path, headers: { ...auth, ...browser }, body: '{}' });
    probes.push({ method: 'POST', path, headers: { origin: 'null' } });
    probes.push({ method: 'POST', path, headers: { 'sec-fetch-site': 'same-site', ...auth } });
    probes.push({ method: 'POST', path, headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
    probes.push({ path, headers: { host: 'evil.example:9470' } });
    probes.push({ method: 'POST', path, headers: { host: `evil.example:${port}`, ...auth } });
  }
  return probes;
};

// The request, header and idle timeouts are 10 s; node checks the first two every second.
const CUT_WITHIN_MS = 13_000;
const ROUND_MS = 2_000;

/** Connections that hold a slot: a trickled body, nothing at all, or an answer never read. */
function slowClient(kind: 'trickle' | 'silent' | 'no-read'): Promise<number> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1', () => {
      if (kind === 'trickle') socket.write(`POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n`);
      if (kind === 'no-read') {
        socket.write('GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(20));
        socket.pause();
        // A paused socket cannot see the server hang up; reading now shows whether it already has
        // (close right away) or would still be serving (close only after the keep-alive timeout).
        setTimeout(() => socket.resume(), CUT_WITHIN_MS - 1_000);
      }
    });
    const timer = kind === 'trickle' ? setInterval(() => socket.writable && socket.write(' '), 500) : undefined;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve(performance.now() - started);
    });
    setTimeout(() => socket.destroy(), 30_000).unref();
  });
}

const SAMPLER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const samples = [];
let running = true;
parentPort.on('message', () => { running = false; });
const once = () => new Promise((resolve) => {
  const started = performance.now();
  const req = http.request({ host: '127.0.0.1', port: workerData.port, path: '/health', agent: false }, (res) => {
    res.resume();
    res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode }));
  });
  req.on('error', (err) => resolve({ ms: performance.now() - started, status: 0, error: err.code }));
  req.end();
});
(async () => {
  while (running) {
    samples.push(await once());
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  parentPort.postMessage(samples);
})();
`;

test('the abuse set: 0 5xx, the agent alive, /health p99 under 50 ms throughout', async (t) => {
  // /health asked from its own thread, so the load this file generates does not delay the asking.
  const sampler = new Worker(SAMPLER, { eval: true, workerData: { port } });
  const samples = new Promise<Array<{ ms: number; status: number; error?: string }>>((resolve) => sampler.once('message', resolve));
  const started = performance.now();

  let slowOpen = true;
  const slow = Promise.all([
    ...Array.from({ length: 50 }, () => slowClient('trickle')),
    ...Array.from({ length: 50 }, () => slowClient('silent')),
    ...Array.from({ length: 20 }, () => slowClient('no-read')),
  ]).finally(() => (slowOpen = false));
  const concurrent: Probe[] = Array.from({ length: 500 }, (_, i) =>
    [
      { path: '/status' },
      { path: '/health' },
      { path: '/probes' },
      { path: '/logs' },
      { path: `/nope/${i}` },
      { method: 'POST', path: '/reload', headers: { authorization: 'Bearer wrong' } },
      { path: '/openapi.json' },
      { path: `/certs/..%2f..%2f${i}` },
    ][i % 8]!,
  );
  // The abuse set, a round every 2 s while the slow clients hold their connections (about 12 s), with
  // one burst of 500 requests at once in the first round.
  let rounds = 0;
  let rawSent = 0;
  const round = { unknown: unknownRoutes(), traversal: traversal(), bodies: badBodies(), raw: rawBodies(), tokens: tokens(), crossOrigin: crossOrigin() };
  while (slowOpen && rounds < 8) {
    const roundEnds = performance.now() + ROUND_MS;
    await expectNo5xx('unknown route', round.unknown);
    await expectNo5xx('traversal', round.traversal, is4xx);
    await expectNo5xx('body', round.bodies);
    const rawAnswers = await Promise.all(round.raw.map((text) => raw(text)));
    rawSent += rawAnswers.length;
    rawAnswers.forEach((line, i) => {
      if (/^HTTP\/1\.1 5/.test(line)) failures.push(`raw ${i}: ${line}`);
    });
    await expectNo5xx('token', round.tokens, (status) => status === 401);
    await expectNo5xx('cross-origin', round.crossOrigin, (status) => [403, 415, 421].includes(status));
    if (rounds === 0) await expectNo5xx('concurrent', concurrent, undefined, concurrent.length);
    rounds += 1;
    await Promise.race([slow, sleep(roundEnds - performance.now())]);
  }
  const held = await slow;
  sampler.postMessage('stop');
  const health = await samples;
  await sampler.terminate();

  const sorted = health.map((s) => s.ms).sort((a, b) => a - b);
  const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  t.diagnostic(
    `${rounds} rounds: ${tally.requests} requests + ${rawSent} raw + ${held.length} slow clients in ${Math.round(performance.now() - started)} ms; ` +
      `statuses ${JSON.stringify(Object.fromEntries([...tally.byStatus].sort()))}; ` +
      `/health ${health.length} samples p50 ${p(0.5).toFixed(1)} p99 ${p(0.99).toFixed(1)} max ${sorted.at(-1)!.toFixed(1)} ms; slowest slow client cut after ${Math.round(Math.max(...held))} ms`,
  );

  assert.deepEqual(failures, []);
  assert.ok(Math.max(...held) < CUT_WITHIN_MS, 'every slow client was cut off by the request, header or idle timeout');
  assert.deepEqual(health.filter((s) => s.status !== 200), [], '/health answered 200 every time');
  assert.ok(health.length > 100, `${health.length} /health samples`);
  assert.ok(p(0.99) < 50, `/health p99 ${p(0.99).toFixed(1)} ms`);
  assert.equal(agent.child.exitCode, null, 'the agent is still running');
  assert.equal(agent.lines.filter((line) => line.msg === 'admin request failed').length, 0, 'no request was an internal error');
  assert.equal((await send({ path: '/health' }) as { status: number }).status, 200);
});
