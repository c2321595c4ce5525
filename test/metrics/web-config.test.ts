import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { loadConfig } from '../../src/agent/config/load.js';
import { ConfigError } from '../../src/agent/kit/errors.js';
import { startMetricsServer } from '../../src/metrics/server.js';
import { readWebConfig } from '../../src/metrics/web-config.js';
import { generateServerCerts, type ServerCerts } from '../harness/certs.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';

let dir: TempDir;
let certs: ServerCerts;
let hash: string;
before(async () => {
  dir = await makeTempDir('web-config');
  certs = await generateServerCerts(dir.path);
  hash = bcrypt.hashSync('s3cret', 10);
});
after(() => dir.cleanup());

async function webConfig(name: string, yaml: string): Promise<string> {
  const file = join(dir.path, name);
  await writeFile(file, yaml);
  return file;
}

async function configIssues(webConfigPath: string): Promise<Array<{ path: string; message: string }>> {
  const file = join(dir.path, 'caretaker.yaml');
  await writeFile(file, `metrics: { listen: "127.0.0.1:0", webConfig: ${JSON.stringify(webConfigPath)} }\n`);
  try {
    await loadConfig(file, { modules: [] });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues.map(({ path, message }) => ({ path, message }));
  }
  return [];
}

function httpsGet(url: string, options: { ca: Buffer; auth?: string; cert?: Buffer; key?: Buffer }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpsRequest(url, { ca: options.ca, ...(options.auth ? { auth: options.auth } : {}), ...(options.cert ? { cert: options.cert, key: options.key } : {}) }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

test('a node_exporter web-config file loads; relative paths are taken from its directory', async () => {
  await copyFile(certs.cert, join(dir.path, 'rel.pem'));
  await copyFile(certs.key, join(dir.path, 'rel.key'));
  const file = await webConfig('web.yml', `tls_server_config:\n  cert_file: rel.pem\n  key_file: rel.key\nbasic_auth_users:\n  prometheus: '${hash}'\nhttp_server_config:\n  headers: { X-Frame-Options: deny }\n`);
  assert.deepEqual(readWebConfig(file), {
    file,
    users: { prometheus: hash },
    headers: { 'X-Frame-Options': 'deny' },
    tls: { certFile: join(dir.path, 'rel.pem'), keyFile: join(dir.path, 'rel.key'), clientAuth: 'NoClientCert', minVersion: 'TLSv1.2' },
  });
  assert.deepEqual(await configIssues(file), []);
});

test('a bad web-config file is a config error at metrics.webConfig that says what is wrong', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['missing.yml', '', /cannot read .*missing\.yml \(ENOENT\)/],
    ['yaml.yml', 'basic_auth_users: [\n', /invalid YAML/],
    ['hash.yml', 'basic_auth_users:\n  prometheus: plaintext\n', /basic_auth_users\.prometheus: must be a bcrypt hash/],
    ['unknown.yml', 'tls_config: {}\n', /unknown key tls_config/],
    ['nocert.yml', `tls_server_config: { cert_file: ${join(dir.path, 'none.pem')}, key_file: ${certs.key} }\n`, /tls_server_config\.cert_file: cannot read .*none\.pem \(ENOENT\)/],
    ['mismatch.yml', `tls_server_config: { cert_file: ${certs.ca}, key_file: ${certs.key} }\n`, /cert_file and key_file do not load as a matching PEM pair/],
    ['ca.yml', `tls_server_config: { cert_file: ${certs.cert}, key_file: ${certs.key}, client_ca_file: ${certs.ca} }\n`, /tls_server_config\.client_auth_type: must verify client certificates/],
    ['verify.yml', `tls_server_config: { cert_file: ${certs.cert}, key_file: ${certs.key}, client_auth_type: RequireAndVerifyClientCert }\n`, /client_ca_file: is required with client_auth_type RequireAndVerifyClientCert/],
    ['version.yml', `tls_server_config: { cert_file: ${certs.cert}, key_file: ${certs.key}, min_version: TLS14 }\n`, /min_version/],
  ];
  for (const [name, yaml, message] of cases) {
    const file = name === 'missing.yml' ? join(dir.path, name) : await webConfig(name, yaml);
    const issues = await configIssues(file);
    assert.equal(issues.length, 1, `${name}: ${JSON.stringify(issues)}`);
    assert.equal(issues[0]!.path, 'metrics.webConfig', name);
    assert.match(issues[0]!.message, message, name);
  }
});

test('TLS and basic auth: wrong or missing credentials get 401, the right ones the metrics', async () => {
  const registry = new Registry();
  new Counter({ name: 'caretaker_test_things_total', help: 'Things.', registers: [registry] }).inc();
  const config = readWebConfig(await webConfig('tls-auth.yml', `tls_server_config: { cert_file: ${certs.cert}, key_file: ${certs.key} }\nbasic_auth_users:\n  prometheus: '${hash}'\n`));
  const server = await startMetricsServer(registry, { kind: 'tcp', host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }), { webConfig: config });
  try {
    const ca = await readFile(certs.ca);
    const url = `https://${server.address}/metrics`;
    assert.equal((await httpsGet(url, { ca })).status, 401);
    assert.equal((await httpsGet(url, { ca, auth: 'prometheus:wrong' })).status, 401);
    assert.equal((await httpsGet(url, { ca, auth: 'nobody:s3cret' })).status, 401);
    const ok = await httpsGet(url, { ca, auth: 'prometheus:s3cret' });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /^caretaker_test_things_total 1$/m);
    assert.equal((await httpsGet(url, { ca, auth: 'prometheus:s3cret' })).status, 200);
    await assert.rejects(fetch(url.replace('https:', 'http:')));
  } finally {
    await server.close();
  }
});

test('RequireAndVerifyClientCert refuses a client without a certificate signed by client_ca_file', async () => {
  const registry = new Registry();
  const config = readWebConfig(
    await webConfig('mtls.yml', `tls_server_config: { cert_file: ${certs.cert}, key_file: ${certs.key}, client_ca_file: ${certs.ca}, client_auth_type: RequireAndVerifyClientCert }\n`),
  );
  const server = await startMetricsServer(registry, { kind: 'tcp', host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }), { webConfig: config });
  try {
    const [ca, cert, key] = await Promise.all([readFile(certs.ca), readFile(certs.cert), readFile(certs.key)]);
    const url = `https://${server.address}/metrics`;
    await assert.rejects(httpsGet(url, { ca }));
    assert.equal((await httpsGet(url, { ca, cert, key })).status, 200);
  } finally {
    await server.close();
  }
});

test('a listener reachable from other hosts without TLS or basic auth logs a warning', async () => {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  // An IPv4-mapped loopback address: not 127.x to the config's loopback check, yet still only loopback.
  const open = await startMetricsServer(new Registry(), { kind: 'tcp', host: '::ffff:127.0.0.1', port: 0 }, log);
  await open.close();
  assert.equal(lines.filter((l) => l.level === 40 && /without TLS or basic auth/.test(String(l.msg))).length, 1);
  const guarded = readWebConfig(await webConfig('auth-only.yml', `basic_auth_users:\n  prometheus: '${hash}'\n`));
  const closed = await startMetricsServer(new Registry(), { kind: 'tcp', host: '::ffff:127.0.0.1', port: 0 }, log, { webConfig: guarded });
  await closed.close();
  assert.equal(lines.filter((l) => l.level === 40).length, 1);
});
