import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { generateServerCerts } from '../../harness/certs.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { verifyServed } from '../../../src/modules/certificates/deploy.js';

let tmp: TempDir;
let contexts: { old: tls.SecureContext; fresh: tls.SecureContext; freshSerial: string };

async function contextIn(dir: string): Promise<{ context: tls.SecureContext; serial: string }> {
  await mkdir(dir, { recursive: true });
  const files = await generateServerCerts(dir);
  const cert = await readFile(files.cert);
  return { context: tls.createSecureContext({ cert, key: await readFile(files.key) }), serial: new X509Certificate(cert).serialNumber };
}

before(async () => {
  tmp = await makeTempDir('deploy-verify');
  const old = await contextIn(path.join(tmp.path, 'old'));
  const fresh = await contextIn(path.join(tmp.path, 'new'));
  contexts = { old: old.context, fresh: fresh.context, freshSerial: fresh.serial };
});
after(async () => tmp.cleanup());

/** A TLS server presenting the certificates of `sequence` to successive handshakes (the last one from then on). */
async function serverPresenting(sequence: Array<'old' | 'fresh'>): Promise<{ target: string; handshakes: () => number; close: () => Promise<void> }> {
  let handshakes = 0;
  const server = tls.createServer({
    SNICallback: (_name, done) => {
      const which = sequence[Math.min(handshakes, sequence.length - 1)]!;
      handshakes += 1;
      done(null, which === 'fresh' ? contexts.fresh : contexts.old);
    },
  });
  server.on('secureConnection', (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { target: `127.0.0.1:${port}`, handshakes: () => handshakes, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('one handshake with the new certificate between old ones (nginx mid-reload) is not yet verified', async () => {
  // A reloaded nginx: the new worker answers once, an old one that has not seen its QUIT answers next, then only new ones.
  const server = await serverPresenting(['old', 'fresh', 'old', 'fresh', 'fresh', 'fresh']);
  try {
    await verifyServed(server.target, 'localhost', contexts.freshSerial, new AbortController().signal);
    assert.equal(server.handshakes(), 6, 'verified only after three new answers in a row');
  } finally {
    await server.close();
  }
});

test('a server that keeps the old certificate fails the check, naming the serial it serves', async () => {
  const server = await serverPresenting(['old']);
  const aborts = new AbortController();
  setTimeout(() => aborts.abort(), 600).unref();
  try {
    await assert.rejects(verifyServed(server.target, 'localhost', contexts.freshSerial, aborts.signal), /does not serve the new certificate .*serves serial [0-9A-F]+/);
  } finally {
    await server.close();
  }
});
