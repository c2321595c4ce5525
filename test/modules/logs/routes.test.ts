import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import { errorHandler } from '../../../src/agent/admin/error-handler.js';
import { routes } from '../../../src/modules/logs/routes.js';
import { makeFixture } from './setup.js';

test('GET /logs, POST /logs/:name/rotate, 404 for an unknown set, 409 while one runs', async (t) => {
  const f = await makeFixture((dir) => [{ name: 'app', paths: [join(dir, 'a.log')], rotate: { every: 'daily' }, reopen: { command: 'sleep 0.3' } }]);
  t.after(() => f.cleanup());
  await writeFile(join(f.dir, 'a.log'), 'x\n');
  await f.rotator.start();
  await f.tick();
  const app = Fastify();
  app.setErrorHandler(errorHandler);
  await app.register(routes, { prefix: '/logs', live: { current: () => f.rotator } });
  t.after(() => app.close());

  const list = await app.inject({ method: 'GET', url: '/logs' });
  assert.equal(list.statusCode, 200);
  assert.equal(list.json().logs[0].name, 'app');
  assert.equal(list.json().logs[0].files[0].path, join(f.dir, 'a.log'));

  const unknown = await app.inject({ method: 'POST', url: '/logs/nope/rotate' });
  assert.equal(unknown.statusCode, 404);
  assert.deepEqual(unknown.json(), { error: 'not_found', message: "no log set named 'nope'" });

  const first = app.inject({ method: 'POST', url: '/logs/app/rotate' });
  await new Promise((r) => setTimeout(r, 100));
  const second = await app.inject({ method: 'POST', url: '/logs/app/rotate' });
  assert.equal(second.statusCode, 409);
  assert.equal(second.json().error, 'conflict');
  const done = await first;
  assert.equal(done.statusCode, 200);
  assert.equal(done.json().result, 'success');
  assert.match(done.json().rotated[0].to, /a\.log-20260110T120000Z$/);
});
