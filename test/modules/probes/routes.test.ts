import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { errorHandler } from '../../../src/agent/admin/error-handler.js';
import { routes } from '../../../src/modules/probes/routes.js';
import { startProber, type ProberFixture } from './fixture.js';
import { startHttpServer, type TestHttpServer } from './servers.js';

let server: TestHttpServer;
let fixture: ProberFixture;
let app: FastifyInstance;

before(async () => {
  server = await startHttpServer();
  fixture = await startProber([
    { name: 'api', type: 'http', url: `http://user:hunter2@127.0.0.1:${server.port}/health`, critical: true },
    { name: 'closed', type: 'tcp', address: '127.0.0.1:1' },
  ]);
  await fixture.prober.checkNow();
  app = Fastify();
  app.setErrorHandler(errorHandler);
  await app.register(routes, { prefix: '/probes', live: { current: () => fixture.prober } });
});
after(async () => {
  await app?.close();
  await fixture?.stop();
  await server?.close();
});

test('GET /probes lists every probe with its latest result', async () => {
  const res = await app.inject({ method: 'GET', url: '/probes' });
  assert.equal(res.statusCode, 200);
  const body = res.json() as { probes: Array<Record<string, unknown> & { last: Record<string, unknown> }> };
  assert.deepEqual(body.probes.map((p) => [p.name, p.kind, p.status, p.critical, p.last.reason]), [
    ['api', 'http', 'up', true, 'ok'],
    ['closed', 'tcp', 'down', false, 'refused'],
  ]);
  assert.equal(body.probes[0]!.target, `GET http://user:***@127.0.0.1:${server.port}/health`);
  assert.ok(!res.body.includes('hunter2'), 'passwords never reach the API');
  assert.equal(typeof body.probes[0]!.last.latencyMs, 'number');
});

test('GET /probes/:name answers one probe; an unknown name is 404', async () => {
  const one = await app.inject({ method: 'GET', url: '/probes/closed' });
  assert.equal(one.statusCode, 200);
  assert.equal(one.json().last.reason, 'refused');
  const missing = await app.inject({ method: 'GET', url: '/probes/nope' });
  assert.equal(missing.statusCode, 404);
  assert.deepEqual(missing.json(), { error: 'not_found', message: "no probe named 'nope'" });
});

test('POST /probes/:name/check checks that probe now and answers its new result; an unknown name is 404', async () => {
  const before = (await app.inject({ method: 'GET', url: '/probes/api' })).json() as { last: { at: string } };
  const checked = await app.inject({ method: 'POST', url: '/probes/api/check' });
  assert.equal(checked.statusCode, 200);
  const body = checked.json() as { status: string; last: { at: string; reason: string } };
  assert.equal(body.last.reason, 'ok');
  assert.ok(Date.parse(body.last.at) > Date.parse(before.last.at), 'a fresh check, not the cached result');
  assert.ok(!checked.body.includes('hunter2'));
  assert.equal((await app.inject({ method: 'POST', url: '/probes/nope/check' })).statusCode, 404);
});
