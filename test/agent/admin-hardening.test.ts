import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createAdminClient } from '../../src/agent/cli/client.js';
import { parseListen } from '../../src/agent/kit/schema.js';
import { baseConfig, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { widgets } from '../helpers/widgets-module.js';

// The default: no admin token, so only the browser checks stand between a web page and POST /reload.
let t: TestAgent;
let port: number;

before(async () => {
  t = await startTestAgent((dir) => baseConfig(dir, 'widgets:\n  - { name: a }\n'), [widgets]);
  port = Number(new URL(t.adminUrl('/')).port);
});
after(async () => t.close());

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** One request through node's HTTP client, which sends exactly the headers given (Host included). */
function call(method: string, path: string, headers: Record<string, string> = {}, body?: string, target: { port?: number; socketPath?: string } = { port }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', ...target, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const reloads = () => t.logs.filter((line) => line.msg === 'config reloaded').length;

// What Chrome sends for `fetch('http://127.0.0.1:9470/reload', {method: 'POST', mode: 'no-cors', body: 'x'})` from evil.example.
const browser = {
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  accept: '*/*',
  origin: 'http://evil.example',
  referer: 'http://evil.example/',
  'sec-fetch-site': 'cross-site',
  'sec-fetch-mode': 'no-cors',
  'sec-fetch-dest': 'empty',
  'content-type': 'text/plain;charset=UTF-8',
};

test('a cross-site browser POST is refused with 403 before it reloads anything', async () => {
  const before = reloads();
  const refused: Array<[Record<string, string>, string | undefined, number, string]> = [
    [browser, 'x', 403, 'forbidden'],
    [{ origin: 'http://evil.example' }, undefined, 403, 'forbidden'],
    [{ origin: 'null' }, undefined, 403, 'forbidden'],
    [{ origin: `http://localhost:${port + 1}` }, undefined, 403, 'forbidden'],
    [{ origin: `http://127.0.0.1.evil.example:${port}` }, undefined, 403, 'forbidden'],
    [{ 'sec-fetch-site': 'cross-site' }, undefined, 403, 'forbidden'],
    [{ 'sec-fetch-site': 'same-site' }, undefined, 403, 'forbidden'],
    [{ 'content-type': 'text/plain' }, '{}', 415, 'unsupported_media_type'],
    [{ 'content-type': 'application/x-www-form-urlencoded' }, 'a=1', 415, 'unsupported_media_type'],
    [{ 'content-type': 'multipart/form-data; boundary=x' }, '--x--', 415, 'unsupported_media_type'],
    [{}, '{}', 415, 'unsupported_media_type'],
  ];
  for (const [headers, body, status, error] of refused) {
    const answer = await call('POST', '/reload', headers, body);
    assert.equal(answer.status, status, JSON.stringify(headers));
    assert.equal(answer.body.error, error);
    assert.match(String(answer.body.message), /./);
  }
  assert.match(String((await call('POST', '/reload', browser, 'x')).body.message), /cross-site/);
  assert.equal(reloads(), before, 'no refused request reloaded the config');
});

test('the admin API’s own origins, the CLI and curl may still change things', async () => {
  const before = reloads();
  const allowed: Array<[Record<string, string>, string | undefined]> = [
    [{}, undefined],
    [{ 'content-type': 'application/json' }, '{}'],
    [{ 'content-type': 'application/json; charset=utf-8', origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' }, '{}'],
    [{ origin: `http://localhost:${port}`, 'sec-fetch-site': 'same-origin' }, undefined],
    [{ 'sec-fetch-site': 'none' }, undefined],
  ];
  for (const [headers, body] of allowed) assert.equal((await call('POST', '/reload', headers, body)).status, 200, JSON.stringify(headers));
  const client = createAdminClient({ address: parseListen(`127.0.0.1:${port}`)! });
  assert.equal(((await client.get('/health')) as { status: string }).status, 'ok');
  assert.equal(((await client.post('/reload')) as { ok: boolean }).ok, true);
  assert.equal(((await createAdminClient({ address: parseListen(`localhost:${port}`)! }).get('/health')) as { status: string }).status, 'ok');
  assert.equal(reloads(), before + allowed.length + 1);
});

test('a Host that is not the admin API’s own (DNS rebinding) is refused, GETs too', async () => {
  for (const host of ['evil.example:9470', 'evil.example', `evil.example:${port}`, '127.0.0.1.nip.io', 'localhost.evil.example']) {
    for (const [method, path] of [['GET', '/health'], ['GET', '/status'], ['POST', '/reload']] as const) {
      const answer = await call(method, path, { host });
      assert.equal(answer.status, 421, `${method} ${path} Host: ${host}`);
      assert.equal(answer.body.error, 'unknown_host');
      assert.match(String(answer.body.message), /127\.0\.0\.1, localhost, \[::1\]/);
    }
  }
  for (const host of [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, '[::1]']) {
    assert.equal((await call('GET', '/health', { host })).status, 200, `Host: ${host}`);
  }
});

test('fastify’s own refusals come out as {error, message}', async () => {
  const cases: Array<[string, number, string]> = [
    ['/widgets/%E0%A4%A', 400, 'bad_url'],
    [`/widgets/${'a'.repeat(150)}`, 414, 'uri_too_long'],
  ];
  for (const [path, status, error] of cases) {
    const answer = await call('GET', path);
    assert.deepEqual([answer.status, Object.keys(answer.body).sort(), answer.body.error], [status, ['error', 'message'], error], path);
  }
  const raw = async (text: string) => {
    const socket = connect(port, '127.0.0.1');
    socket.end(text);
    let received = '';
    for await (const chunk of socket) received += String(chunk);
    const [head, body] = received.split('\r\n\r\n');
    return { statusLine: head!.split('\r\n')[0], body: JSON.parse(body!) as Record<string, unknown> };
  };
  const overflow = await raw(`GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`);
  assert.equal(overflow.statusLine, 'HTTP/1.1 431 Request Header Fields Too Large');
  assert.deepEqual(overflow.body, { error: 'headers_too_large', message: 'the request line and headers exceed 16 KiB' });
  const garbage = await raw('NOT HTTP AT ALL\r\n\r\n');
  assert.equal(garbage.statusLine, 'HTTP/1.1 400 Bad Request');
  assert.equal(garbage.body.error, 'bad_request');
  assert.match(String(garbage.body.message), /malformed HTTP request/);
});

/** Opens a connection that sends a request's head and then one byte of its body a second; resolves when the server cuts it. */
function trickle(path: string, listenPort: number): Promise<{ ms: number; answer: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket: Socket = connect(listenPort, '127.0.0.1', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${listenPort}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n`);
    });
    const timer = setInterval(() => socket.writable && socket.write(' '), 1000);
    let answer = '';
    socket.on('data', (chunk) => (answer += String(chunk)));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ ms: performance.now() - started, answer });
    });
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`${path}: still open after 30 s`));
    }, 30_000).unref();
  });
}

test('100 connections trickling a body are cut off with 408 within the request timeout while /health answers', async () => {
  const cut = Promise.all(Array.from({ length: 100 }, () => trickle('/reload', port)));
  const latencies: number[] = [];
  const deadline = performance.now() + 8_000;
  while (performance.now() < deadline) {
    const started = performance.now();
    assert.equal((await call('GET', '/health')).status, 200);
    latencies.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const results = await cut;
  const slowest = Math.max(...results.map((r) => r.ms));
  assert.ok(slowest < 10_000 + 2_500, `cut after ${Math.round(slowest)} ms`);
  assert.ok(Math.min(...results.map((r) => r.ms)) >= 9_000, 'not cut before the request timeout');
  for (const { answer } of results) {
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"error":"request_timeout"/);
  }
  assert.ok(Math.max(...latencies) < 1_000, `/health took up to ${Math.round(Math.max(...latencies))} ms`);
});

test('the metrics listener cuts slow clients too', async () => {
  const metricsPort = Number(new URL(t.metricsUrl()).port);
  const results = await Promise.all(Array.from({ length: 20 }, () => trickle('/metrics', metricsPort)));
  const slowest = Math.max(...results.map((r) => r.ms));
  assert.ok(slowest < 10_000 + 2_500, `cut after ${Math.round(slowest)} ms`);
  assert.equal((await fetch(t.metricsUrl())).status, 200);
});

test('on a unix socket Host is not checked, but cross-site changes are still refused', async () => {
  const socketPath = join(t.dir, 'admin.sock');
  const u = await startTestAgent((dir) => baseConfig(dir).replace('admin: { listen: "127.0.0.1:0" }', `admin: { listen: "unix:${socketPath}" }`), []);
  try {
    assert.equal((await call('GET', '/health', { host: 'evil.example:9470' }, undefined, { socketPath })).status, 200);
    assert.equal((await call('POST', '/reload', browser, 'x', { socketPath })).status, 403);
    assert.equal((await call('POST', '/reload', { host: 'admin.example.com', origin: 'https://evil.example' }, undefined, { socketPath })).status, 403);
    // A proxy in front of the socket passes its own Host; the page it serves is same-origin with it.
    assert.equal((await call('POST', '/reload', { host: 'admin.example.com', origin: 'https://admin.example.com' }, undefined, { socketPath })).status, 200);
    const client = createAdminClient({ address: { kind: 'unix', path: socketPath } });
    assert.equal(((await client.post('/reload')) as { ok: boolean }).ok, true);
  } finally {
    await u.close();
  }
});

test('with admin.allowRemote every route needs the token, so any Host name may be used; cross-site changes are still refused', async () => {
  const token = 'remote-token-0123456789abcdef';
  const r = await startTestAgent((dir) => baseConfig(dir).replace('admin: { listen: "127.0.0.1:0" }', `admin: { listen: "127.0.0.1:0", allowRemote: true, token: ${token} }`), []);
  try {
    const target = { port: Number(new URL(r.adminUrl('/')).port) };
    const bearer = { authorization: `Bearer ${token}` };
    assert.equal((await call('GET', '/status', { host: 'caretaker.internal.example:9470' }, undefined, target)).status, 401, 'a rebound page without the token reads nothing');
    assert.equal((await call('GET', '/status', { host: 'caretaker.internal.example:9470', ...bearer }, undefined, target)).status, 200);
    assert.equal((await call('POST', '/reload', { ...browser, ...bearer }, 'x', target)).status, 403);
  } finally {
    await r.close();
  }
});
