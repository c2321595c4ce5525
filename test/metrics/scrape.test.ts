import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { acceptsGzip, negotiate, toOpenMetrics } from '../../src/metrics/exposition.js';
import { ScrapeCache } from '../../src/metrics/scrape-cache.js';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/server.js';
import { requireBinaries } from '../harness/deps.js';

const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

function sampleRegistry() {
  const registry = new Registry();
  const collects = { count: 0 };
  const jobs = new Counter({ name: 'caretaker_test_jobs_total', help: 'Jobs run, "quoted" \\ and slashed.', labelNames: ['job'], registers: [registry] });
  jobs.inc({ job: 'a' }, 3);
  new Gauge({
    name: 'caretaker_test_temperature_celsius',
    help: 'A gauge read at scrape time.',
    registers: [registry],
    collect() {
      collects.count++;
      this.set(collects.count);
    },
  });
  new Histogram({ name: 'caretaker_test_duration_seconds', help: 'Durations.', buckets: [0.1, 1], registers: [registry] }).observe(0.5);
  return { registry, jobs, collects };
}

function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

let server: MetricsServer;
let sample: ReturnType<typeof sampleRegistry>;
before(async () => {
  sample = sampleRegistry();
  server = await startMetricsServer(sample.registry, { kind: 'tcp', host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }), { cacheMs: 0 });
});
after(() => server.close());

test('negotiate picks OpenMetrics for Prometheus 2.x Accept headers and text otherwise', () => {
  assert.equal(negotiate(PROMETHEUS_ACCEPT), 'openmetrics');
  assert.equal(negotiate('application/openmetrics-text'), 'openmetrics');
  assert.equal(negotiate(undefined), 'prometheus');
  assert.equal(negotiate('*/*'), 'prometheus');
  assert.equal(negotiate('text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5'), 'prometheus');
  assert.equal(negotiate('application/openmetrics-text;version=2.0.0'), 'prometheus');
  assert.equal(negotiate('application/openmetrics-text;q=0,text/plain'), 'prometheus');
  assert.equal(acceptsGzip('gzip, deflate, br'), true);
  assert.equal(acceptsGzip('deflate'), false);
  assert.equal(acceptsGzip('gzip;q=0'), false);
  assert.equal(acceptsGzip(undefined), false);
});

test('toOpenMetrics renames counter families, escapes HELP quotes, drops blank lines and ends with # EOF', () => {
  const text = [
    '# HELP a_total Things "done".',
    '# TYPE a_total counter',
    'a_total{x="1"} 2',
    '',
    '# HELP b Odd.',
    '# TYPE b untyped',
    'b Nan',
    '',
    '# HELP c Counter without suffix.',
    '# TYPE c counter',
    'c 1',
    '',
  ].join('\n');
  assert.equal(
    toOpenMetrics(text),
    ['# HELP a Things \\"done\\".', '# TYPE a counter', 'a_total{x="1"} 2', '# HELP b Odd.', '# TYPE b unknown', 'b NaN', '# HELP c Counter without suffix.', '# TYPE c unknown', 'c 1', '# EOF', ''].join('\n'),
  );
});

test('OpenMetrics on request, and the Prometheus text keeps _total after an OpenMetrics scrape', async () => {
  const before = await (await fetch(`http://${server.address}/metrics`)).text();
  const om = await fetch(`http://${server.address}/metrics`, { headers: { accept: PROMETHEUS_ACCEPT } });
  assert.equal(om.headers.get('content-type'), 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  const omText = await om.text();
  assert.match(omText, /^# TYPE caretaker_test_jobs counter$/m);
  assert.match(omText, /^caretaker_test_jobs_total\{job="a"\} 3$/m);
  assert.match(omText, /^caretaker_test_duration_seconds_bucket\{le="\+Inf"\} 1$/m);
  assert.ok(omText.endsWith('\n# EOF\n'));
  assert.doesNotMatch(omText, /\n\n/);

  const after = await fetch(`http://${server.address}/metrics`);
  assert.equal(after.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await after.text();
  assert.match(text, /^# TYPE caretaker_test_jobs_total counter$/m);
  assert.match(text, /^caretaker_test_jobs_total\{job="a"\} 3$/m);
  assert.equal(text.replace(/^caretaker_test_temperature_celsius \d+$/m, ''), before.replace(/^caretaker_test_temperature_celsius \d+$/m, ''));
  const { promtool } = requireBinaries(['promtool']);
  const lint = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(`${lint.stdout}${lint.stderr}`, '');
});

test('gzip when the client accepts it, identity otherwise', async () => {
  const zipped = await rawGet(`http://${server.address}/metrics`, { 'accept-encoding': 'gzip' });
  assert.equal(zipped.status, 200);
  assert.equal(zipped.headers['content-encoding'], 'gzip');
  assert.equal(zipped.headers.vary, 'Accept, Accept-Encoding');
  assert.equal(Number(zipped.headers['content-length']), zipped.body.length);
  assert.match(gunzipSync(zipped.body).toString(), /^caretaker_test_jobs_total\{job="a"\} 3$/m);
  const zippedOm = await rawGet(`http://${server.address}/metrics`, { 'accept-encoding': 'gzip', accept: 'application/openmetrics-text' });
  assert.ok(gunzipSync(zippedOm.body).toString().endsWith('# EOF\n'));
  const plain = await rawGet(`http://${server.address}/metrics`, {});
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.match(plain.body.toString(), /^# HELP caretaker_test_jobs_total/m);
});

test('the cache renders once per interval and concurrent scrapes share one render', async () => {
  const { registry, jobs, collects } = sampleRegistry();
  let now = 0;
  const cache = new ScrapeCache(registry, 1000, () => now);
  const bodies = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.body(i % 2 ? 'openmetrics' : 'prometheus', i % 3 === 0)));
  assert.equal(collects.count, 1);
  assert.equal(bodies.length, 20);
  jobs.inc({ job: 'a' });
  now = 999;
  assert.match((await cache.body('prometheus', false)).toString(), /^caretaker_test_jobs_total\{job="a"\} 3$/m);
  assert.equal(collects.count, 1);
  now = 1000;
  assert.match((await cache.body('prometheus', false)).toString(), /^caretaker_test_jobs_total\{job="a"\} 4$/m);
  assert.equal(collects.count, 2);
});

test('a failed render is not cached', async () => {
  const registry = new Registry();
  let fail = true;
  new Gauge({
    name: 'caretaker_test_flaky',
    help: 'Throws once.',
    registers: [registry],
    collect() {
      if (fail) throw new Error('boom');
      this.set(1);
    },
  });
  const cache = new ScrapeCache(registry, 1000, () => 0);
  await assert.rejects(cache.body('prometheus', false), /boom/);
  fail = false;
  assert.match((await cache.body('prometheus', false)).toString(), /^caretaker_test_flaky 1$/m);
});
