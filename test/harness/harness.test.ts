import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { generateServerCerts } from './certs.js';
import { requireBinaries } from './deps.js';
import { httpsGet, httpsRequest, type HttpsResponse } from './https.js';
import { startNginx } from './nginx.js';
import { startPebble, type PebbleServer } from './pebble.js';
import { canConnect, freePort, waitForPort } from './ports.js';
import { startPostgres } from './postgres.js';
import { runCommand, startServerProcess } from './process.js';
import { redisCommand } from './redis-client.js';
import { startSentinel } from './redis-sentinel.js';
import { startRedis } from './redis.js';
import { makeTempDir } from './tmpdir.js';

/** True while a process or, with group, any member of its process group exists. */
function alive(pid: number, group = false): boolean {
  try {
    process.kill(group ? -pid : pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ports and temp dirs', () => {
  test('freePort gives a port that can be bound; waitForPort sees a listener and times out without one', async () => {
    const port = await freePort();
    const server = net.createServer().listen(port, '127.0.0.1');
    try {
      await waitForPort(port, '127.0.0.1', 2_000);
    } finally {
      server.close();
    }
    await assert.rejects(waitForPort(await freePort(), '127.0.0.1', 200), /within 200 ms/);
  });

  test('makeTempDir cleanup removes the directory and its contents', async () => {
    const dir = await makeTempDir('harness');
    await writeFile(`${dir.path}/file`, 'x');
    await dir.cleanup();
    assert.equal(existsSync(dir.path), false);
  });
});

describe('process', () => {
  test('a server that exits before it is ready rejects with its output', async () => {
    await assert.rejects(
      startServerProcess({ name: 'doomed', command: 'sh', args: ['-c', 'echo boom; exit 3'], isReady: async () => false }),
      (error: Error) => /exited with code 3/.test(error.message) && /boom/.test(error.message),
    );
  });

  test('a server that never gets ready is killed and the rejection carries its output', async () => {
    let pid = 0;
    await assert.rejects(
      startServerProcess({
        name: 'stuck',
        command: 'sh',
        args: ['-c', 'echo waiting; exec sleep 60'],
        isReady: async (p) => ((pid = p), false),
        readyTimeoutMs: 500,
      }),
      /stuck was not ready within 500 ms[^]*waiting/,
    );
    assert.equal(alive(pid), false);
  });

  test('requireBinaries names the Debian package of a missing binary', () => {
    assert.throws(() => requireBinaries(['no-such-binary-caretaker']), /no-such-binary-caretaker.*install-deps\.sh/);
  });
});

describe('redis', () => {
  test('starts, answers PING and stops leaving no process', async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    assert.equal(await redisCommand({ port: redis.port }, 'PING'), 'PONG');
    assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    const { pid, dir } = redis;
    await redis.stop();
    assert.equal(alive(pid), false);
    assert.equal(existsSync(dir), false);
  });

  test('password, TLS and renamed commands', async (t) => {
    const password = 'pa ss"word';
    const redis = await startRedis({ password, tls: true, renameCommands: { FLUSHALL: '' } });
    t.after(() => redis.stop());
    await assert.rejects(redisCommand({ port: redis.port }, 'PING'), /NOAUTH/);
    assert.equal(await redisCommand({ port: redis.port, password }, 'PING'), 'PONG');
    assert.equal(await redisCommand({ port: redis.tlsPort!, password, tlsCa: redis.ca }, 'PING'), 'PONG');
    await assert.rejects(redisCommand({ port: redis.port, password }, 'FLUSHALL'), /unknown command/);

    // openssl checks the chain and the IP SAN the way a non-Node client would.
    const handshake = await runCommand('openssl', [
      's_client', '-connect', `127.0.0.1:${redis.tlsPort}`, '-CAfile', redis.ca!, '-verify_ip', '127.0.0.1', '-verify_return_error',
    ]);
    assert.match(handshake, /Verify return code: 0 \(ok\)/);

    const firstPid = redis.pid;
    await redis.down();
    await assert.rejects(redisCommand({ port: redis.port, password }, 'PING'), /ECONNREFUSED/);
    await redis.up();
    assert.notEqual(redis.pid, firstPid);
    assert.equal(await redisCommand({ port: redis.port, password }, 'PING'), 'PONG');
  });
});

describe('redis sentinel', () => {
  test('monitors the master, rewrites its own config, restarts on its port and stops leaving nothing', async (t) => {
    const master = await startRedis({ password: 'mpw' });
    t.after(() => master.stop());
    const sentinel = await startSentinel(master, { masterPassword: 'mpw', password: 'spw' });
    t.after(() => sentinel.stop());
    await assert.rejects(redisCommand({ port: sentinel.port }, 'PING'), /NOAUTH/);
    const ask = () => redisCommand({ port: sentinel.port, password: 'spw' }, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', sentinel.masterName);
    assert.deepEqual(await ask(), ['127.0.0.1', String(master.port)]);
    // A sentinel that can write its config records its id there; one that cannot refuses to start.
    assert.match(await readFile(`${sentinel.dir}/sentinel.conf`, 'utf8'), /^sentinel myid [0-9a-f]{40}$/m);

    await sentinel.restart();
    assert.deepEqual(await ask(), ['127.0.0.1', String(master.port)]);
    const { pid, dir } = sentinel;
    await sentinel.stop();
    assert.equal(alive(pid), false);
    assert.equal(existsSync(dir), false);
  });
});

describe('postgres', () => {
  test('SELECT 1 with the password, over verify-full TLS, and stops leaving no process', async (t) => {
    const pg = await startPostgres({ ssl: true, password: "it's secret" });
    t.after(() => pg.stop());
    assert.equal((await pg.psql('SELECT 1')).trim(), '1');

    const { psql } = requireBinaries(['psql']);
    const sslQuery = 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';
    const verified = `${pg.url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(pg.ca!)}`;
    assert.equal((await runCommand(psql, ['-X', '-A', '-t', '-c', sslQuery, verified])).trim(), 't');
    await assert.rejects(
      runCommand(psql, ['-X', '-A', '-t', '-c', 'SELECT 1', `postgres://postgres:wrong@127.0.0.1:${pg.port}/postgres`]),
      /password authentication failed/,
    );

    await pg.psql('CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)');
    await pg.restart();
    assert.equal((await pg.psql('SELECT v FROM kept')).trim(), '42');

    const pid = pg.pid;
    await pg.stop();
    assert.equal(alive(pid, true), false);
  });
});

describe('pebble', () => {
  test('serves its directory over TLS trusting the generated CA, hands out its root, validates http-01 on 127.0.0.1:httpPort', async (t) => {
    const pebble = await startPebble();
    t.after(() => pebble.stop());
    const directory = await httpsGet(pebble.directoryUrl, pebble.ca);
    assert.equal(directory.status, 200);
    assert.match(JSON.parse(directory.body).newOrder, /^https:\/\/127\.0\.0\.1:\d+\//);
    assert.match(await pebble.rootCertPem(), /^-----BEGIN CERTIFICATE-----/);

    const validation = await validateHttp01(pebble, 'harness.caretaker.test');
    assert.equal(validation.status, 'valid');
    assert.equal(validation.requestHost, `harness.caretaker.test:${pebble.httpPort}`);

    const pid = pebble.pid;
    const challtestsrvPort = Number(new URL(pebble.challtestsrv.managementUrl).port);
    await pebble.stop();
    assert.equal(alive(pid), false);
    assert.equal(await canConnect(challtestsrvPort), false);
  });
});

describe('nginx', () => {
  test('serves files over http and https, reloads, reopens its log and stops leaving no process', async (t) => {
    const www = await makeTempDir('www');
    t.after(() => www.cleanup());
    await writeFile(`${www.path}/hello.txt`, 'hello\n');
    const certs = await generateServerCerts(www.path);
    const nginx = await startNginx({ sites: [{ root: www.path }, { root: www.path, ssl: certs }] });
    t.after(() => nginx.stop());
    const [plainPort, tlsPort] = nginx.ports;

    assert.equal(await (await fetch(`http://127.0.0.1:${plainPort}/hello.txt`)).text(), 'hello\n');
    assert.equal((await httpsGet(`https://127.0.0.1:${tlsPort}/hello.txt`, certs.ca)).body, 'hello\n');
    await nginx.reload();
    assert.equal((await fetch(`http://127.0.0.1:${plainPort}/hello.txt`)).status, 200);

    await rename(nginx.accessLog, `${nginx.accessLog}.1`);
    await nginx.reopen();
    await waitFor(() => existsSync(nginx.accessLog), 'nginx to reopen its access log');
    // The master creates the new file, then tells each worker; a worker that has not reopened yet still
    // logs to the renamed file, so a request goes out on every try until one lands in the new file.
    let tries = 0;
    await waitFor(async () => {
      await fetch(`http://127.0.0.1:${plainPort}/after-reopen-${++tries}`);
      return (await readFile(nginx.accessLog, 'utf8')).includes('/after-reopen-');
    }, 'a request logged in the new access log');

    const pid = nginx.pid;
    await nginx.stop();
    assert.equal(alive(pid, true), false);
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * The least ACME client that proves the wiring: account, order, http-01 answered by a listener on
 * 127.0.0.1:httpPort, then the authorization's final status and the Host the validation request carried.
 */
async function validateHttp01(pebble: PebbleServer, domain: string): Promise<{ status: string; requestHost?: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const thumbprint = base64url(createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })).digest());
  const directory = JSON.parse((await httpsGet(pebble.directoryUrl, pebble.ca)).body) as Record<string, string>;
  let nonce = header(await httpsRequest(directory.newNonce!, pebble.ca, { method: 'HEAD' }), 'replay-nonce');
  let kid: string | undefined;

  const post = async (url: string, payload: unknown): Promise<HttpsResponse> => {
    const protectedHeader = { alg: 'ES256', nonce, url, ...(kid ? { kid } : { jwk }) };
    const response = await httpsRequest(url, pebble.ca, {
      method: 'POST',
      headers: { 'content-type': 'application/jose+json' },
      body: JSON.stringify(jws(privateKey, protectedHeader, payload)),
    });
    nonce = header(response, 'replay-nonce');
    if (response.status >= 400) throw new Error(`ACME ${url} answered ${response.status}: ${response.body}`);
    return response;
  };

  kid = header(await post(directory.newAccount!, { termsOfServiceAgreed: true }), 'location');
  const order = JSON.parse((await post(directory.newOrder!, { identifiers: [{ type: 'dns', value: domain }] })).body);
  const authorizationUrl: string = order.authorizations[0];
  const authorization = JSON.parse((await post(authorizationUrl, undefined)).body);
  const challenge = authorization.challenges.find((c: { type: string }) => c.type === 'http-01');

  let requestHost: string | undefined;
  const responder = http.createServer((request, response) => {
    requestHost = request.headers.host;
    response.end(`${challenge.token}.${thumbprint}`);
  });
  await new Promise<void>((resolve) => responder.listen(pebble.httpPort, '127.0.0.1', resolve));
  try {
    await post(challenge.url, {});
    for (let attempt = 0; attempt < 100; attempt++) {
      const { status } = JSON.parse((await post(authorizationUrl, undefined)).body);
      if (status !== 'pending') return { status, requestHost };
      await sleep(100);
    }
    return { status: 'pending', requestHost };
  } finally {
    responder.close();
  }
}

function jws(key: KeyObject, protectedHeader: object, payload: unknown) {
  const encodedHeader = base64url(JSON.stringify(protectedHeader));
  // POST-as-GET carries an empty payload, not an encoded empty object.
  const encodedPayload = payload === undefined ? '' : base64url(JSON.stringify(payload));
  const signature = sign('sha256', Buffer.from(`${encodedHeader}.${encodedPayload}`), { key, dsaEncoding: 'ieee-p1363' });
  return { protected: encodedHeader, payload: encodedPayload, signature: base64url(signature) };
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

function header(response: HttpsResponse, name: string): string {
  const value = response.headers[name];
  if (typeof value !== 'string') throw new Error(`ACME response lacks ${name}: ${response.status} ${response.body}`);
  return value;
}
