import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'node:http';
import { baseConfig, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { widgetHealth, widgets } from '../helpers/widgets-module.js';

const TOKEN = 'test-token-0123456789abcdef';
let t: TestAgent;

before(async () => {
  t = await startTestAgent(
    (dir) => baseConfig(dir, `widgets:\n  - { name: a, critical: true }\n  - { name: b }\n`).replace('admin: { listen: "127.0.0.1:0" }', `admin: { listen: "127.0.0.1:0", token: ${TOKEN} }`),
    [widgets],
  );
});
after(async () => t.close());

async function call(method: string, path: string, init: { body?: string | Buffer; headers?: Record<string, string> } = {}) {
  const response = await fetch(t.adminUrl(path), { method, body: init.body ?? null, headers: init.headers ?? {} });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const auth = { authorization: `Bearer ${TOKEN}` };

test('liveness and status answer', async () => {
  assert.deepEqual(await call('GET', '/health'), { status: 200, body: { status: 'ok' } });
  const status = await call('GET', '/status');
  assert.equal(status.status, 200);
  assert.equal(status.body.version, '0.0.0-test');
  assert.equal((status.body.modules as Array<{ name: string; state: string }>)[0]?.state, 'running');
});

test('/health/deep flips to 503 when a critical check fails, and back', async () => {
  assert.equal((await call('GET', '/health/deep')).status, 200);
  widgetHealth.set('b', false);
  assert.equal((await call('GET', '/health/deep')).status, 200, 'a non-critical failure keeps readiness');
  widgetHealth.set('a', false);
  const failing = await call('GET', '/health/deep');
  assert.equal(failing.status, 503);
  assert.deepEqual(
    (failing.body.checks as Array<{ name: string; ok: boolean }>).map((c) => [c.name, c.ok]),
    [['a', false], ['b', false]],
  );
  widgetHealth.clear();
  assert.equal((await call('GET', '/health/deep')).status, 200);
});

test('mutating routes need the bearer token', async () => {
  const denied = await call('POST', '/reload');
  assert.equal(denied.status, 401);
  assert.equal(denied.body.error, 'unauthorized');
  assert.equal((await call('POST', '/reload', { headers: { authorization: 'Bearer wrong' } })).status, 401);
  assert.equal((await call('POST', '/reload', { headers: auth })).status, 200);
});

test('module routes are mounted under their prefix; an unknown name is 404', async () => {
  assert.deepEqual((await call('GET', '/widgets/a')).body.name, 'a');
  const missing = await call('GET', '/widgets/nope');
  assert.deepEqual(missing, { status: 404, body: { error: 'not_found', message: "no widget named 'nope'" } });
});

test('the caller’s mistakes get 4xx JSON, never 5xx', async () => {
  const cases: Array<[string, string, Parameters<typeof call>[2], number, string]> = [
    ['POST', '/widgets/a/poke', { body: '{"note":', headers: { ...auth, 'content-type': 'application/json' } }, 400, 'invalid_json'],
    ['POST', '/widgets/a/poke', { body: '', headers: { ...auth, 'content-type': 'application/json' } }, 400, 'invalid_json'],
    ['POST', '/widgets/a/poke', { body: '<x/>', headers: { ...auth, 'content-type': 'application/xml' } }, 415, 'unsupported_media_type'],
    ['POST', '/widgets/a/poke', { body: '{"note": 5, "extra": 1}', headers: { ...auth, 'content-type': 'application/json' } }, 400, 'invalid_request'],
    ['POST', '/widgets/a/poke', { body: JSON.stringify({ note: 'x'.repeat(200_000) }), headers: { ...auth, 'content-type': 'application/json' } }, 413, 'body_too_large'],
    ['GET', '/no/such/route', {}, 404, 'not_found'],
    ['DELETE', '/status', { headers: auth }, 404, 'not_found'],
    ['POST', '/widgets/nope/poke', { body: '{}', headers: { ...auth, 'content-type': 'application/json' } }, 404, 'not_found'],
  ];
  for (const [method, path, init, status, error] of cases) {
    const answer = await call(method, path, init);
    assert.equal(answer.status, status, `${method} ${path} ${String(init?.body).slice(0, 30)}`);
    assert.equal(answer.body.error, error);
    assert.equal(typeof answer.body.message, 'string');
  }
  assert.equal((await call('POST', '/widgets/a/poke', { body: '{"note":"hi"}', headers: { ...auth, 'content-type': 'application/json' } })).status, 200);
});

test('a header flood or a huge URL is refused with 4xx', async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const url = new URL(t.adminUrl('/status'));
    const req = request({ host: url.hostname, port: url.port, path: `/status?${'x'.repeat(20_000)}`, headers: { 'x-big': 'y'.repeat(20_000) } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.ok(status >= 400 && status < 500, `got ${status}`);
});

test('/openapi.json describes agent and module routes', async () => {
  const spec = await call('GET', '/openapi.json');
  const paths = Object.keys(spec.body.paths as object);
  for (const path of ['/health', '/health/deep', '/status', '/reload', '/widgets/{name}']) assert.ok(paths.includes(path), path);
});

test('a module that is not configured answers 404 not_configured', async () => {
  await t.writeConfig(baseConfig(t.dir).replace('admin: { listen: "127.0.0.1:0" }', `admin: { listen: "127.0.0.1:0", token: ${TOKEN} }`));
  await call('POST', '/reload', { headers: auth });
  const answer = await call('GET', '/widgets/a');
  assert.equal(answer.status, 404);
  assert.equal(answer.body.error, 'not_configured');
});
