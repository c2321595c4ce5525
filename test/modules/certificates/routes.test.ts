import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { errorHandler } from '../../../src/agent/admin/error-handler.js';
import { routes } from '../../../src/modules/certificates/routes.js';
import { freePort } from '../../harness/ports.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { configFor, createManager, type ManagerFixture } from './fixtures.js';

let tmp: TempDir;
let hanging: net.Server;
const sockets = new Set<net.Socket>();
let fixture: ManagerFixture;
let app: FastifyInstance;

before(async () => {
  tmp = await makeTempDir('certs-routes');
  hanging = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  const deadPort = await freePort();
  const challenge = { type: 'http-01', webroot: path.join(tmp.path, 'www') };
  // 'dead' fails at once (refused); 'slow' hangs until the request timeout, so an order stays in flight.
  const config = configFor(`https://127.0.0.1:${deadPort}/dir`, undefined, path.join(tmp.path, 'certs'), [
    { name: 'dead', domains: ['dead.example.com'], challenge },
  ]);
  fixture = await createManager(config);
  app = Fastify();
  app.setErrorHandler(errorHandler);
  await app.register(routes, { prefix: '/certs', live: { current: () => fixture.manager } });
});

after(async () => {
  await app?.close();
  await fixture?.dispose();
  for (const s of sockets) s.destroy();
  hanging?.close();
  await tmp?.cleanup();
});

describe('routes', () => {
  test('GET /certs lists, GET /certs/:name shows one, unknown → 404', async () => {
    const list = await app.inject({ method: 'GET', url: '/certs' });
    assert.equal(list.statusCode, 200);
    assert.deepEqual(list.json().certificates.map((c: { name: string; state: string }) => [c.name, c.state]), [['dead', 'missing']]);
    const one = await app.inject({ method: 'GET', url: '/certs/dead' });
    assert.equal(one.json().name, 'dead');
    const missing = await app.inject({ method: 'GET', url: '/certs/nope' });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), { error: 'not_found', message: "no certificate named 'nope'" });
    assert.equal((await app.inject({ method: 'POST', url: '/certs/nope/renew' })).statusCode, 404);
  });

  test('POST /certs/:name/renew answers with the result as data, failure included', async () => {
    const res = await app.inject({ method: 'POST', url: '/certs/dead/renew' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.result, 'failure');
    assert.match(body.certificate.lastError, /ECONNREFUSED/);
    assert.equal(body.certificate.consecutiveFailures, 1);
  });

  test('a renewal in progress → 409, also when another process holds the lock', async () => {
    const port = (hanging.address() as net.AddressInfo).port;
    const challenge = { type: 'http-01', webroot: path.join(tmp.path, 'www') };
    const slow = await createManager(
      configFor(`https://127.0.0.1:${port}/dir`, undefined, path.join(tmp.path, 'certs'), [{ name: 'slow', domains: ['slow.example.com'], challenge }], { requestTimeout: '2s' }),
    );
    const slowApp = Fastify();
    slowApp.setErrorHandler(errorHandler);
    await slowApp.register(routes, { prefix: '/certs', live: { current: () => slow.manager } });
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const first = slowApp.inject({ method: 'POST', url: '/certs/slow/renew' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const second = await slowApp.inject({ method: 'POST', url: '/certs/slow/renew' });
      assert.equal(second.statusCode, 409);
      assert.equal(second.json().error, 'conflict');
      assert.equal((await first).json().result, 'failure');

      // Another live process owns the lock file: the same 409, naming it.
      await mkdir(path.join(slow.tc.ctx.stateDir, 'locks'), { recursive: true });
      await writeFile(path.join(slow.tc.ctx.stateDir, 'locks', 'slow.lock'), `${holder.pid}\n`);
      const locked = await slowApp.inject({ method: 'POST', url: '/certs/slow/renew' });
      assert.equal(locked.statusCode, 409);
      assert.match(locked.json().message, new RegExp(`pid ${holder.pid}`));
    } finally {
      holder.kill('SIGKILL');
      await slowApp.close();
      await slow.dispose();
    }
  });
});
