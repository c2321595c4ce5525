// End to end with other modules' reporting, told through the real agent: a backup against a stopped PostgreSQL,
// a certificate close to expiry whose ACME server is dead.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { alerts } from '../../../src/modules/alerts/index.js';
import { backups } from '../../../src/modules/backups/index.js';
import { certificates } from '../../../src/modules/certificates/index.js';
import { freePort } from '../../harness/ports.js';
import { startHttpRecorder, type HttpRecorder } from '../../harness/http-recorder.js';
import { startPostgres, type PostgresServer } from '../../harness/postgres.js';
import { makeTempDir, type TempDir } from '../../harness/tmpdir.js';
import { baseConfig, startTestAgent } from '../../helpers/agent.js';

let server: PostgresServer;
let recorder: HttpRecorder;
let dir: TempDir;
before(async () => {
  [server, recorder, dir] = await Promise.all([startPostgres(), startHttpRecorder(), makeTempDir('alerts-backup')]);
});
after(async () => {
  await Promise.all([server?.stop(), recorder?.close()]);
  await dir?.cleanup();
});

interface Body {
  status: string;
  alerts: Array<{ key: string; status: string; summary: string; detail: string; severity: string; item?: string }>;
}

test('a backup failing against a stopped PostgreSQL: one critical message naming the job and the error, one resolved after the next good run', async () => {
  const t = await startTestAgent(
    (d) =>
      baseConfig(
        d,
        `backups:\n  dir: ${dir.path}\n  jobs:\n    - { name: pg, type: postgres, url: "${server.url}", schedule: "0 3 * * *" }\n` +
          `alerts:\n  group: 0s\n  channels:\n    - { name: hook, type: webhook, url: "${recorder.url}/hook/tok" }\n`,
      ),
    [backups, alerts],
  );
  const run = async () => {
    const started = await fetch(t.adminUrl('/backups/pg/run'), { method: 'POST' });
    assert.equal(started.status, 202);
    for (let i = 0; i < 300; i++) {
      const job = (await (await fetch(t.adminUrl('/backups/pg'))).json()) as { state: string; running: unknown };
      if (!job.running && job.state !== 'running') return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  try {
    await server.down();
    await run();
    const [message] = await recorder.waitFor(1, 15_000);
    const body = JSON.parse(message!.body) as Body;
    assert.equal(body.status, 'firing');
    assert.equal(body.alerts.length, 1);
    const alert = body.alerts[0]!;
    assert.deepEqual([alert.key, alert.severity, alert.summary, alert.item], ['backup:pg:run', 'critical', 'backup pg failed', 'pg']);
    assert.match(alert.detail, /backup job pg: .*ECONNREFUSED 127\.0\.0\.1:\d+/);
    assert.ok(!message!.body.includes(server.password), 'the database password is not in the message');

    await server.up();
    await run();
    const resolved = JSON.parse((await recorder.waitFor(2, 30_000))[1]!.body) as Body;
    assert.equal(resolved.status, 'resolved');
    assert.deepEqual(resolved.alerts.map((a) => a.key), ['backup:pg:run']);
  } finally {
    await t.close();
  }
});

test('an open alert about a backup job removed while the agent was down is resolved after the restart', async () => {
  const stateRoot = join(dir.path, 'restart');
  await mkdir(stateRoot, { recursive: true });
  const config = (jobName: string) =>
    baseConfig(
      stateRoot,
      `backups:\n  dir: ${join(stateRoot, 'backups')}\n  jobs:\n    - { name: ${jobName}, type: postgres, url: "${server.url}", schedule: "0 3 * * *" }\n` +
        `alerts:\n  group: 0s\n  channels:\n    - { name: hook, type: webhook, url: "${recorder.url}/hook/restart" }\n`,
    );
  recorder.requests.length = 0;
  await server.down();
  try {
    const first = await startTestAgent(config('old'), [backups, alerts]);
    try {
      assert.equal((await fetch(first.adminUrl('/backups/old/run'), { method: 'POST' })).status, 202);
      const [fired] = await recorder.waitFor(1, 15_000);
      assert.deepEqual((JSON.parse(fired!.body) as Body).alerts.map((a) => `${a.key} ${a.status}`), ['backup:old:run firing']);
      // Stopped once the delivery is known to the agent, so the message is not in the persisted queue (at least once).
      for (let i = 0; i < 100; i++) {
        const view = (await (await fetch(first.adminUrl('/alerts'))).json()) as { channels: Array<{ lastSuccessAt: string | null }> };
        if (view.channels[0]?.lastSuccessAt) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await first.close();
    }
    // The job is renamed in the config while the agent is down: nothing will report on backup:old:run again.
    const second = await startTestAgent(config('new'), [backups, alerts]);
    try {
      const resolved = JSON.parse((await recorder.waitFor(2, 15_000))[1]!.body) as Body;
      assert.deepEqual(resolved.alerts.map((a) => `${a.key} ${a.status}`), ['backup:old:run resolved']);
      const view = (await (await fetch(second.adminUrl('/alerts'))).json()) as { firing: unknown[] };
      assert.deepEqual(view.firing, []);
    } finally {
      await second.close();
    }
  } finally {
    await server.up();
  }
});

/** A live certificate for app.example.com in certbot's layout, valid from `ageS` seconds ago for `lifeS` seconds. */
function writeLiveCertificate(dir: string, ageS: number, lifeS: number): void {
  const script = [
    'import datetime, sys',
    'from cryptography import x509',
    'from cryptography.x509.oid import NameOID',
    'from cryptography.hazmat.primitives import hashes, serialization',
    'from cryptography.hazmat.primitives.asymmetric import ec',
    'out, age, life = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])',
    'key = ec.generate_private_key(ec.SECP256R1())',
    'name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app.example.com")])',
    'start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=age)',
    'cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(x509.random_serial_number())',
    '  .not_valid_before(start).not_valid_after(start + datetime.timedelta(seconds=life))',
    '  .add_extension(x509.SubjectAlternativeName([x509.DNSName("app.example.com")]), critical=False).sign(key, hashes.SHA256()))',
    'pem = cert.public_bytes(serialization.Encoding.PEM)',
    'open(out + "/cert.pem", "wb").write(pem)',
    'open(out + "/fullchain.pem", "wb").write(pem)',
    'open(out + "/chain.pem", "wb").write(b"")',
    'open(out + "/privkey.pem", "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))',
  ].join('\n');
  execFileSync('python3', ['-c', script, dir, String(ageS), String(lifeS)]);
}

test('a certificate whose ACME server is dead and whose expiry is near: a warning, then a critical message as a sixth of its life is left', async () => {
  const certs = join(dir.path, 'le');
  await mkdir(join(certs, 'live', 'app'), { recursive: true });
  // 100 s of life, 70 s gone: under a third left (a warning once the renewal has failed), a sixth left 13 s later.
  writeLiveCertificate(join(certs, 'live', 'app'), 70, 100);
  recorder.requests.length = 0;
  const dead = await freePort();
  const t = await startTestAgent(
    (d) =>
      baseConfig(
        d,
        `certificates:\n  dir: ${certs}\n  renewCheckInterval: 1s\n  acme: { directory: "http://127.0.0.1:${dead}/dir", email: ops@example.com }\n` +
          `  certs:\n    - { name: app, domains: [app.example.com], challenge: { type: http-01, standalone: { address: 127.0.0.1, port: ${dead} } } }\n` +
          `alerts:\n  group: 0s\n  routes:\n    - { match: { module: certificates }, channels: [hook] }\n  channels:\n    - { name: hook, type: webhook, url: "${recorder.url}/hook/tok" }\n`,
      ),
    [certificates, alerts],
  );
  const expiry = () =>
    recorder.requests
      .flatMap((r) => (JSON.parse(r.body) as Body).alerts)
      .filter((a) => a.key === 'cert:app:expiry' && a.status === 'firing')
      .map((a) => a.severity);
  try {
    for (let i = 0; i < 400 && !expiry().includes('critical'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(expiry(), ['warning', 'critical']);
    const lines = recorder.requests.flatMap((r) => (JSON.parse(r.body) as Body).alerts);
    assert.ok(lines.some((a) => a.key === 'cert:app:renewal' && a.status === 'firing'), 'the failing renewal is told too');
    assert.match(lines.find((a) => a.key === 'cert:app:expiry')!.detail, /has not been renewed: .*(ECONNREFUSED|connect)/);
  } finally {
    await t.close();
  }
});
