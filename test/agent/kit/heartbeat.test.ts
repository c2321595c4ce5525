import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { boundBody, HEARTBEAT_BODY_MAX_BYTES, heartbeatUrl, pingHeartbeat } from '../../../src/agent/kit/heartbeat.js';
import { startHttpRecorder, type HttpRecorder } from '../../harness/http-recorder.js';
import { freePort } from '../../harness/ports.js';

const TOKEN = '5f1c2a9e-7b3d-4e61-9c0a-d2f4b6e8a1c3';
const fast = { timeoutMs: 500, retryDelayMs: 20 };

describe('pingHeartbeat', () => {
  let recorder: HttpRecorder;
  before(async () => {
    recorder = await startHttpRecorder();
  });
  after(() => recorder.close());
  beforeEach(() => recorder.reset());

  test('start, success, beat, fail and an exit status go to healthchecks.io paths, each as one POST', async () => {
    const url = `${recorder.url}/ping/${TOKEN}`;
    for (const event of ['start', 'success', 'beat', 'fail', 3] as const) {
      assert.deepEqual(await pingHeartbeat(url, event, undefined, undefined, fast), { ok: true });
    }
    assert.deepEqual(
      recorder.requests.map((r) => `${r.method} ${r.url}`),
      [`POST /ping/${TOKEN}/start`, `POST /ping/${TOKEN}`, `POST /ping/${TOKEN}`, `POST /ping/${TOKEN}/fail`, `POST /ping/${TOKEN}/3`],
    );
  });

  test('a trailing slash and a query string are kept in their places', async () => {
    await pingHeartbeat(`${recorder.url}/ping/${TOKEN}/?rid=abc`, 'start', undefined, undefined, fast);
    assert.equal(recorder.requests[0]!.url, `/ping/${TOKEN}/start?rid=abc`);
  });

  test('the body is the log excerpt, cut to its last 10 KiB', async () => {
    await pingHeartbeat(`${recorder.url}/${TOKEN}`, 'fail', 'pg_dump: error: connection refused\n', undefined, fast);
    assert.equal(recorder.requests[0]!.body, 'pg_dump: error: connection refused\n');
    assert.match(String(recorder.requests[0]!.headers['content-type']), /^text\/plain/);

    const long = `${'é'.repeat(20_000)}the end`;
    await pingHeartbeat(`${recorder.url}/${TOKEN}`, 'fail', long, undefined, fast);
    const sent = recorder.requests[1]!.body;
    assert.ok(Buffer.byteLength(sent) <= HEARTBEAT_BODY_MAX_BYTES, `${Buffer.byteLength(sent)} bytes`);
    assert.ok(sent.endsWith('the end'));
    assert.ok(sent.startsWith('[…]\n'));
    assert.ok(!sent.includes('\uFFFD'), 'cut inside a character');
    assert.equal(boundBody('short'), 'short');
  });

  test('a 500 is retried once; a second 500 is reported with scheme and host only', async () => {
    recorder.respond(() => ({ status: 500 }));
    const result = await pingHeartbeat(`${recorder.url}/${TOKEN}`, 'success', undefined, undefined, fast);
    assert.equal(recorder.requests.length, 2);
    assert.deepEqual(result, { ok: false, error: `heartbeat ping to ${recorder.url} failed: HTTP 500` });
  });

  test('500 then 200 arrives with the retry', async () => {
    let calls = 0;
    recorder.respond(() => (++calls === 1 ? { status: 503 } : { status: 200 }));
    assert.deepEqual(await pingHeartbeat(`${recorder.url}/${TOKEN}`, 'success', undefined, undefined, fast), { ok: true });
    assert.equal(recorder.requests.length, 2);
  });

  test('a 404 (unknown check) is not retried', async () => {
    recorder.respond(() => ({ status: 404, body: 'not found' }));
    const result = await pingHeartbeat(`${recorder.url}/${TOKEN}`, 'success', undefined, undefined, fast);
    assert.equal(recorder.requests.length, 1);
    assert.equal(result.error, `heartbeat ping to ${recorder.url} failed: HTTP 404`);
  });

  test('a hung receiver times out on each of the two attempts, bounded', async () => {
    recorder.respond(() => 'hang');
    const started = performance.now();
    const result = await pingHeartbeat(`${recorder.url}/${TOKEN}`, 'start', undefined, undefined, fast);
    const elapsed = performance.now() - started;
    assert.equal(recorder.requests.length, 2);
    assert.equal(result.error, `heartbeat ping to ${recorder.url} failed: no answer within 500 ms`);
    assert.ok(elapsed < 2_000, `${elapsed} ms`);
  });

  test('connection refused: retried, then named by its code, never by path', async () => {
    const url = `http://127.0.0.1:${await freePort()}/${TOKEN}`;
    const result = await pingHeartbeat(url, 'fail', 'secret log', undefined, fast);
    assert.equal(result.ok, false);
    assert.match(result.error!, /^heartbeat ping to http:\/\/127\.0\.0\.1:\d+ failed: ECONNREFUSED$/);
    assert.ok(!result.error!.includes(TOKEN));
  });

  test('the caller aborting stops the ping without a retry', async () => {
    recorder.respond(() => 'hang');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const result = await pingHeartbeat(`${recorder.url}/${TOKEN}`, 'start', undefined, controller.signal, { timeoutMs: 5_000 });
    assert.equal(result.ok, false);
    assert.equal(recorder.requests.length, 1);
    assert.ok(!result.error!.includes(TOKEN));
  });

  test('a URL that does not parse is reported without repeating it', async () => {
    const result = await pingHeartbeat(`not a url ${TOKEN}`, 'start');
    assert.deepEqual(result, { ok: false, error: 'heartbeat URL is not a valid URL' });
  });
});

test('heartbeatUrl accepts http(s) only and its message does not repeat the value', () => {
  assert.ok(heartbeatUrl().safeParse(`https://hc-ping.com/${TOKEN}`).success);
  const bad = heartbeatUrl().safeParse(`ftp://hc-ping.com/${TOKEN}`);
  assert.ok(!bad.success);
  assert.ok(!JSON.stringify(bad.error.issues).includes(TOKEN));
});
