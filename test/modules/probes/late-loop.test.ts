// caretaker-test: run-alone (it holds the event loop on purpose and measures deadlines)
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { startSilentListener, type SilentListener } from '../../harness/tcp-fakes.js';
import { startProber } from './fixture.js';

const TIMEOUT_MS = 300;

function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the agent's own loop held, as a flood of admin requests holds it
  }
}

let redis: RedisServer;
let silent: SilentListener;
before(async () => {
  [redis, silent] = await Promise.all([startRedis(), startSilentListener()]);
});
after(async () => {
  await redis?.stop();
  await silent?.close();
});

test('a healthy redis is not reported as a timeout when the agent itself held its loop past the timeout', async () => {
  const fixture = await startProber([{ name: 'cache', type: 'redis', url: redis.url, timeout: `${TIMEOUT_MS}ms`, critical: true }]);
  try {
    assert.equal((await fixture.check('cache')).status, 'up');
    // From the check phase, so the deadline's timer is due before the loop next polls the socket: without
    // telling the agent's delay from the server's, the deadline fires first and the answer is never read.
    await nextTurn();
    const checking = fixture.check('cache');
    busy(TIMEOUT_MS + 200);
    const view = await checking;
    assert.equal(view.last?.reason, 'ok', JSON.stringify(view.last));
    assert.equal(view.status, 'up');
    assert.ok(view.last!.latencyMs >= TIMEOUT_MS + 200, `latency ${view.last!.latencyMs} ms`);
    assert.ok(view.last!.loopLateMs >= TIMEOUT_MS, `the loop delay is reported: ${JSON.stringify(view.last)}`);
    assert.equal(await fixture.sample('caretaker_probe_checks_total', { probe: 'cache', kind: 'redis', result: 'failure', reason: 'timeout' }), 0);
  } finally {
    await fixture.stop();
  }
});

/** A proxy to redis that holds the loop once, as the next reply passes: after the command went out, before its answer is read. */
async function startHoldingProxy(port: number): Promise<{ port: number; holdNextReply(ms: number): void; close(): void }> {
  let holdMs = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined).on('close', () => sockets.delete(socket));
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (holdMs > 0) busy(holdMs);
      holdMs = 0;
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    holdNextReply: (ms) => (holdMs = ms),
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

test("a kind's own command timer that fired because the agent held its loop is not a timeout: the check is tried once more", async () => {
  const proxy = await startHoldingProxy(redis.port);
  const fixture = await startProber([{ name: 'cache', type: 'redis', url: `redis://127.0.0.1:${proxy.port}`, timeout: `${TIMEOUT_MS}ms` }]);
  try {
    assert.equal((await fixture.check('cache')).status, 'up');
    // ioredis times each command itself (commandTimeout = the probe's timeout): held past it, PING times out.
    proxy.holdNextReply(TIMEOUT_MS + 200);
    const view = await fixture.check('cache');
    assert.equal(view.last?.reason, 'ok', JSON.stringify(view.last));
    assert.ok(view.last!.loopLateMs >= TIMEOUT_MS, JSON.stringify(view.last));
  } finally {
    await fixture.stop();
    proxy.close();
  }
});

test('a server that never answers is still reported while the loop is late: by twice the timeout, naming the delay', async () => {
  const fixture = await startProber([{ name: 'hung', type: 'redis', url: `redis://127.0.0.1:${silent.port}`, timeout: `${TIMEOUT_MS}ms` }]);
  // The loop busy 90 ms of every 100: the agent could listen for a tenth of the time.
  const hog = setInterval(() => busy(90), 100);
  try {
    await fixture.check('hung');
    const view = await fixture.check('hung');
    assert.equal(view.last?.reason, 'timeout', JSON.stringify(view.last));
    // Given more than its timeout for the agent's delay, never more than twice it (plus one held turn of the loop).
    assert.ok(view.last!.latencyMs >= TIMEOUT_MS + 100 && view.last!.latencyMs <= 2 * TIMEOUT_MS + 150, `took ${view.last!.latencyMs} ms`);
    assert.match(view.last!.message, /\(\d+ ms elapsed, of which the agent's own event loop was \d+ ms late\)$/);
  } finally {
    clearInterval(hog);
    await fixture.stop();
  }
});
