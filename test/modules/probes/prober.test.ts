import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseProbes, startProber } from './fixture.js';
import { startHttpServer, type TestHttpServer } from './servers.js';

let server: TestHttpServer;
before(async () => {
  server = await startHttpServer();
});
after(() => server?.close());

test('failuresBeforeDown and successesBeforeUp damp flapping', async () => {
  const fixture = await startProber([{ name: 'api', type: 'http', url: server.url, failuresBeforeDown: 2, successesBeforeUp: 2 }]);
  try {
    server.answer = { status: 200, body: 'ok' };
    assert.equal((await fixture.check('api')).status, 'up');
    server.answer = { status: 500, body: 'oops' };
    const once = await fixture.check('api');
    assert.equal(once.status, 'up', 'one failure is not enough');
    assert.equal(once.consecutiveFailures, 1);
    assert.equal((await fixture.check('api')).status, 'down');
    assert.equal(await fixture.sample('caretaker_probe_up', { probe: 'api', kind: 'http' }), 0);
    server.answer = { status: 200, body: 'ok' };
    assert.equal((await fixture.check('api')).status, 'down', 'one success is not enough');
    assert.equal((await fixture.check('api')).status, 'up');
    assert.equal(await fixture.sample('caretaker_probe_up', { probe: 'api', kind: 'http' }), 1);
    assert.ok((await fixture.sample('caretaker_probe_checks_total', { probe: 'api', kind: 'http', result: 'failure', reason: 'status' }))! >= 2);
  } finally {
    await fixture.stop();
    server.answer = { status: 200, body: 'ok' };
  }
});

test('health: one check per probe; critical ones decide, pending is not ok', async () => {
  const fixture = await startProber([
    { name: 'api', type: 'http', url: server.url, critical: true },
    { name: 'gone', type: 'tcp', address: '127.0.0.1:1' },
  ]);
  try {
    await fixture.prober.checkNow();
    const health = fixture.prober.health();
    assert.equal(health.status, 'degraded');
    assert.equal(health.message, 'probes down: gone');
    assert.deepEqual(
      health.checks?.map((c) => [c.name, c.ok, c.critical]),
      [
        ['api', true, true],
        ['gone', false, false],
      ],
    );
    assert.match(health.checks![1]!.message!, /^down: refused: connect ECONNREFUSED/);
  } finally {
    await fixture.stop();
  }
});

test('every known label set starts at 0; removed probes lose their series on reload', async () => {
  const fixture = await startProber([
    { name: 'a', type: 'http', url: server.url },
    { name: 'b', type: 'tcp', address: `127.0.0.1:${server.port}` },
  ]);
  try {
    for (const reason of ['timeout', 'refused', 'dns', 'tls', 'auth', 'status', 'query', 'unsupported']) {
      assert.notEqual(await fixture.sample('caretaker_probe_checks_total', { probe: 'b', kind: 'tcp', result: 'failure', reason }), undefined, reason);
    }
    await fixture.prober.checkNow();
    assert.equal(await fixture.sample('caretaker_probe_http_status_code', { probe: 'a' }), 200);

    await fixture.prober.reload(parseProbes([{ name: 'b', type: 'tcp', address: `127.0.0.1:${server.port}`, interval: '1h' }]));
    assert.deepEqual(fixture.prober.list().map((p) => p.name), ['b']);
    assert.equal(await fixture.sample('caretaker_probe_up', { probe: 'a', kind: 'http' }), undefined);
    assert.equal(await fixture.sample('caretaker_probe_checks_total', { probe: 'a', kind: 'http', result: 'success', reason: 'ok' }), undefined);
    assert.equal(await fixture.sample('caretaker_probe_http_status_code', { probe: 'a' }), undefined);
    assert.equal(await fixture.sample('caretaker_probe_up', { probe: 'b', kind: 'tcp' }), 1, 'the unchanged probe kept running');
    assert.throws(() => fixture.prober.get('a'), { name: 'NotFoundError' });
  } finally {
    await fixture.stop();
  }
  assert.equal(await fixture.sample('caretaker_probe_up', { probe: 'b', kind: 'tcp' }), undefined, 'stop removes every series');
});

test('reload: unchanged probes keep their connection, an edited one keeps its state and counters, added ones start', async () => {
  const before = server.connectionsAccepted();
  const fixture = await startProber([
    { name: 'kept', type: 'http', url: `${server.url}/kept` },
    { name: 'edited', type: 'http', url: `${server.url}/edited` },
  ]);
  try {
    await fixture.prober.checkNow();
    const counted = await fixture.sample('caretaker_probe_checks_total', { probe: 'edited', kind: 'http', result: 'success', reason: 'ok' });
    await fixture.prober.reload(
      parseProbes([
        { name: 'kept', type: 'http', url: `${server.url}/kept`, interval: '1h' },
        { name: 'edited', type: 'http', url: `${server.url}/edited`, interval: '1h', critical: true },
        { name: 'added', type: 'tcp', address: `127.0.0.1:${server.port}`, interval: '1h' },
      ]),
    );
    const edited = fixture.prober.get('edited');
    assert.equal(edited.status, 'up', 'state carried over');
    assert.equal(edited.critical, true);
    assert.equal(await fixture.sample('caretaker_probe_checks_total', { probe: 'edited', kind: 'http', result: 'success', reason: 'ok' }), counted);
    await fixture.prober.checkNow('kept');
    await fixture.prober.checkNow('edited');
    // kept: one connection throughout; edited: a new one after the reload; added: tcp connections.
    assert.equal(server.connectionsAccepted() - before >= 3, true);
    await fixture.prober.checkNow('added');
    assert.equal(fixture.prober.get('added').status, 'up');
    assert.deepEqual(fixture.prober.list().map((p) => p.name), ['kept', 'edited', 'added']);
  } finally {
    await fixture.stop();
  }
});

test('a kind change replaces the probe and its label sets', async () => {
  const fixture = await startProber([{ name: 'x', type: 'http', url: server.url }]);
  try {
    await fixture.prober.checkNow();
    await fixture.prober.reload(parseProbes([{ name: 'x', type: 'tcp', address: `127.0.0.1:${server.port}`, interval: '1h' }]));
    assert.equal(await fixture.sample('caretaker_probe_up', { probe: 'x', kind: 'http' }), undefined);
    assert.notEqual(await fixture.sample('caretaker_probe_up', { probe: 'x', kind: 'tcp' }), undefined);
    assert.equal(fixture.prober.get('x').kind, 'tcp');
  } finally {
    await fixture.stop();
  }
});

test('recentLatencyMs: one entry per check, null for a failed one, kept when the probe is edited', async () => {
  const fixture = await startProber([{ name: 'api', type: 'http', url: server.url }]);
  try {
    server.answer = { status: 200, body: 'ok' };
    await fixture.check('api');
    server.answer = { status: 500, body: 'oops' };
    const view = await fixture.check('api');
    assert.equal(view.recentLatencyMs.length, 2);
    assert.ok(typeof view.recentLatencyMs[0] === 'number' && view.recentLatencyMs[0] > 0);
    assert.equal(view.recentLatencyMs[0], fixture.prober.get('api').recentLatencyMs[0]);
    assert.equal(view.recentLatencyMs[1], null);
    await fixture.prober.reload(parseProbes([{ name: 'api', type: 'http', url: server.url, timeout: '900ms' }]));
    assert.deepEqual(fixture.prober.get('api').recentLatencyMs, view.recentLatencyMs, 'an edited probe keeps its sparkline');
  } finally {
    await fixture.stop();
    server.answer = { status: 200, body: 'ok' };
  }
});
