// End to end with another module's reporting: a backup against a stopped PostgreSQL, told through the real agent.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { alerts } from '../../../src/modules/alerts/index.js';
import { backups } from '../../../src/modules/backups/index.js';
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
