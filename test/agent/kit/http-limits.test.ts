import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { LISTENER_LIMITS, limitConnections, serverOptions, type ListenerLimits } from '../../../src/agent/kit/http-limits.js';

const limits: ListenerLimits = { ...LISTENER_LIMITS, headersTimeoutMs: 5_000, requestTimeoutMs: 5_000, idleTimeoutMs: 5_000, maxConnections: 5 };

async function listen(handler: Parameters<typeof createServer>[1], limits: ListenerLimits) {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(JSON.parse(String(chunk)) as Record<string, unknown>), done()) }));
  const server: Server = createServer(serverOptions(limits), handler);
  limitConnections(server, limits, log);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, port, lines, close: () => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())) };
}

const opened = (port: number) =>
  new Promise<Socket>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', () => undefined);
  });
const closedWithin = (socket: Socket, ms: number) =>
  new Promise<boolean>((resolve) => {
    if (socket.destroyed) return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => (clearTimeout(timer), resolve(true)));
  });

test('connections past the cap are closed on arrival, with one warning per episode', async () => {
  const s = await listen((_req, res) => res.end('ok'), limits);
  try {
    const held = await Promise.all(Array.from({ length: limits.maxConnections }, () => opened(s.port)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const extra = await Promise.all(Array.from({ length: 10 }, () => opened(s.port)));
    for (const socket of extra) assert.equal(await closedWithin(socket, 2_000), true, 'a connection past the cap is closed');
    for (const socket of held) assert.equal(socket.destroyed, false, 'the first connections stay');
    const warnings = s.lines.filter((line) => line.msg === 'connection limit reached; refusing new connections');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.maxConnections, limits.maxConnections);
    for (const socket of held) socket.destroy();
  } finally {
    await s.close();
  }
});

test('the idle timeout closes a quiet connection but spares one whose answer is still being made', async () => {
  const short = { ...limits, idleTimeoutMs: 300 };
  const s = await listen((_req, res) => setTimeout(() => res.end('slow answer'), 1_000), short);
  try {
    const quiet = await opened(s.port);
    assert.equal(await closedWithin(quiet, short.idleTimeoutMs + 1_500), true, 'a silent connection is closed');
    const answer = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: s.port, path: '/', agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += String(chunk)));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(answer, 'slow answer', 'a handler that runs past the idle timeout still answers');
  } finally {
    await s.close();
  }
});
