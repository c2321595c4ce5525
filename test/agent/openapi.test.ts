import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ajv } from 'ajv';
import { modules } from '../../src/modules/index.js';
import { makeTempDir, type TempDir } from '../harness/tmpdir.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { allModulesConfig } from '../metrics/all-modules.js';

type Schema = Record<string, unknown>;
interface Operation {
  responses?: Record<string, { content?: { 'application/json'?: { schema?: Schema } } }>;
}

let dir: TempDir;
let t: TestAgent;
let paths: Record<string, Record<string, Operation>>;
// The schemas close their objects (additionalProperties: false), so a property a schema does not name fails here.
const ajv = new Ajv({ strict: false, allErrors: true });

before(async () => {
  dir = await makeTempDir('openapi');
  t = await startTestAgent(await allModulesConfig(dir.path, { host: false }), modules);
  paths = ((await (await fetch(t.adminUrl('/openapi.json'))).json()) as { paths: typeof paths }).paths;
});
after(async () => {
  await t.close();
  await dir.cleanup();
});

function schemaOf(path: string, method: string, status: number): Schema {
  const schema = paths[path]?.[method]?.responses?.[String(status)]?.content?.['application/json']?.schema;
  assert.ok(schema, `${method.toUpperCase()} ${path} declares no ${status} response schema`);
  return schema;
}

/** What the agent or a module built, as JSON has it (undefined dropped). */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

function assertValid(schema: Schema, value: unknown, what: string): void {
  const validate = ajv.compile(schema);
  assert.ok(validate(value), `${what} does not match its declared schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value, null, 2)}`);
}

async function get(path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(t.adminUrl(path));
  return { status: response.status, body: (await response.json()) as unknown };
}

test('every route of an agent with every module declares a response schema for its 2xx answer', () => {
  const missing: string[] = [];
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const ok = Object.entries(operation.responses ?? {}).some(([code, r]) => /^2\d\d$/.test(code) && r.content?.['application/json']?.schema);
      if (!ok) missing.push(`${method.toUpperCase()} ${path}`);
    }
  }
  assert.deepEqual(missing, []);
  // Every module's routes are in the description, not only the agent's.
  for (const prefix of ['/certs/', '/backups/', '/probes/', '/logs/', '/status', '/health/deep', '/reload']) {
    assert.ok(Object.keys(paths).some((p) => p.startsWith(prefix)), `no route under ${prefix} in /openapi.json`);
  }
});

test('/status and /health/deep: the answers and what the agent builds match their schemas', async () => {
  const status = await get('/status');
  assert.equal(status.status, 200);
  assertValid(schemaOf('/status', 'get', 200), status.body, 'GET /status');
  assertValid(schemaOf('/status', 'get', 200), plain(t.agent.status()), 'agent.status()');

  const deep = await get('/health/deep');
  assertValid(schemaOf('/health/deep', 'get', deep.status), deep.body, `GET /health/deep (${deep.status})`);
  const health = t.agent.deepHealth();
  assertValid(schemaOf('/health/deep', 'get', 200), plain({ status: health.ok ? 'ok' : 'failing', ...health }), 'agent.deepHealth()');
});

test('/probes, /certs, /backups, /logs, /alerts and one item of each: the answers and what the modules build match their schemas', async () => {
  // Give each probe a result and one backup job a finished (failed) run, so the nested objects are there too.
  const until = Date.now() + 20_000;
  let probes = (await get('/probes')).body as { probes: Array<{ name: string; last: unknown }> };
  while (probes.probes.some((p) => p.last === null) && Date.now() < until) {
    await sleep(200);
    probes = (await get('/probes')).body as typeof probes;
  }
  assert.ok(probes.probes.every((p) => p.last !== null), 'every probe was checked');
  const started = await fetch(t.adminUrl('/backups/pg-main/run'), { method: 'POST' });
  assert.equal(started.status, 202);
  assertValid(schemaOf('/backups/{job}/run', 'post', 202), await started.json(), 'POST /backups/pg-main/run');
  for (let job = await get('/backups/pg-main'); (job.body as { lastRun: unknown }).lastRun === null && Date.now() < until; job = await get('/backups/pg-main')) {
    await sleep(200);
  }
  const rotated = await fetch(t.adminUrl('/logs/nginx/rotate'), { method: 'POST' });
  assert.equal(rotated.status, 200);
  assertValid(schemaOf('/logs/{name}/rotate', 'post', 200), await rotated.json(), 'POST /logs/nginx/rotate');

  const raw = new Map(t.agent.status().modules.map((m) => [m.prefix, m.status]));
  for (const prefix of ['/probes', '/certs', '/backups', '/logs', '/alerts']) {
    const answer = await get(prefix);
    assert.equal(answer.status, 200, `GET ${prefix}`);
    assertValid(schemaOf(prefix, 'get', 200), answer.body, `GET ${prefix}`);
    assertValid(schemaOf(prefix, 'get', 200), plain(raw.get(prefix)), `the ${prefix} module's status()`);
  }
  const backups = (await get('/backups/pg-main')).body as { lastRun: unknown };
  assert.notEqual(backups.lastRun, null, 'the backup run finished');
  assertValid(schemaOf('/backups/{job}', 'get', 200), backups, 'GET /backups/pg-main');
  assertValid(schemaOf('/probes/{name}', 'get', 200), (await get('/probes/redis')).body, 'GET /probes/redis');
  const certs = (await get('/certs')).body as { certificates: Array<{ name: string }> };
  const cert = certs.certificates[0]?.name ?? assert.fail('full.yaml configures a certificate');
  assertValid(schemaOf('/certs/{name}', 'get', 200), (await get(`/certs/${cert}`)).body, `GET /certs/${cert}`);
});

test('a declared error answer keeps its fields: 404 of an unknown item, 400 of a refused reload', async () => {
  const missing = await get('/probes/nope');
  assert.deepEqual(missing, { status: 404, body: { error: 'not_found', message: "no probe named 'nope'" } });
  await t.writeConfig('probes: [ { name: x } ]\n');
  const refused = await fetch(t.adminUrl('/reload'), { method: 'POST' });
  const body = (await refused.json()) as { error: string; issues: unknown[] };
  assert.equal(refused.status, 400);
  assert.equal(body.error, 'invalid_config');
  assert.ok(body.issues.length > 0, 'the issues are in the answer');
  assertValid(schemaOf('/reload', 'post', 400), body, 'POST /reload (400)');
});
