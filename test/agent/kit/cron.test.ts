import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import cron from 'node-cron';
import { cronExpression, cronFields, cronProblem, nextCronRun } from '../../../src/agent/kit/cron.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

test('cronProblem accepts what the scheduler reads and names the field that is wrong', () => {
  assert.equal(cronProblem('0 2 * * *'), undefined);
  assert.equal(cronProblem('*/30 0 2 * * *'), undefined);
  assert.match(cronProblem('61 * * * *') ?? '', /minute/i);
});

test('cronExpression refuses a bad schedule at load, quoting it with the reason', () => {
  assert.equal(cronExpression().parse('15 3 * * 1'), '15 3 * * 1');
  const result = cronExpression().safeParse('0 25 * * *');
  assert.equal(result.success, false);
  assert.match(result.error!.issues[0]!.message, /^'0 25 \* \* \*' is not a cron expression \(.*hour/i);
  assert.match(cronExpression().safeParse(5).error!.issues[0]!.message, /expected a cron expression/);
});

test('cronFields gives what each field matches, seconds defaulting to 0', () => {
  const fields = cronFields('30 2 * * 1-5');
  assert.deepEqual(fields.second, [0]);
  assert.deepEqual(fields.minute, [30]);
  assert.deepEqual(fields.hour, [2]);
  assert.deepEqual(fields.dayOfWeek, [1, 2, 3, 4, 5]);
});

test('nextCronRun fires where node-cron would, in UTC, the host zone and another zone, across DST changes', (t) => {
  const expressions = ['0 2 * * *', '*/15 * * * *', '30 2 * * *', '0 3 * * 0', '15 10 L * *', '0 0 15W * *', '0 0 L-2 * *', '0 12 * * 5L', '0 9 * * 1#2', '*/20 30 1 * * *', '0 0 29 2 *', '0 4 * * 1-5'];
  // Midnight the day before and an hour into each European and American DST change of 2026, and a plain day.
  const bases = ['2026-03-28T00:00:00Z', '2026-03-29T00:30:00Z', '2026-03-08T06:10:00Z', '2026-10-24T23:59:30Z', '2026-10-25T00:45:00Z', '2026-11-01T05:20:00Z', '2026-06-15T12:34:56.789Z'];
  t.mock.timers.enable({ apis: ['Date'] });
  const hostZone = process.env.TZ;
  t.after(() => (hostZone === undefined ? delete process.env.TZ : (process.env.TZ = hostZone)));
  // Each zone read through Intl (another zone than the host's) and as the host zone (TZ), which reads Date.
  for (const [timezone, host] of [['UTC', hostZone], ['Europe/Berlin', 'UTC'], ['Europe/Berlin', 'Europe/Berlin'], ['America/New_York', 'UTC'], ['America/New_York', 'America/New_York']] as const) {
    if (host === undefined) delete process.env.TZ;
    else process.env.TZ = host;
    for (const expression of expressions) {
      const task = cron.createTask(expression, () => undefined, { timezone });
      for (const base of bases) {
        t.mock.timers.setTime(Date.parse(base));
        const theirs = task.getNextRuns(1)[0];
        const ours = nextCronRun(expression, new Date(base), timezone);
        assert.equal(ours.toISOString(), theirs?.toISOString(), `${expression} in ${timezone} (host ${host}) after ${base}`);
      }
      void task.destroy();
    }
  }
});

test('nextCronRun skips a wall time a DST change leaves out and runs a repeated one once', () => {
  // Berlin: 2026-03-29 02:00 CET jumps to 03:00 CEST; 2026-10-25 03:00 CEST falls back to 02:00 CET.
  assert.equal(nextCronRun('30 2 * * *', new Date('2026-03-28T12:00:00Z'), 'Europe/Berlin').toISOString(), '2026-03-30T00:30:00.000Z');
  assert.equal(nextCronRun('30 2 * * *', new Date('2026-10-24T12:00:00Z'), 'Europe/Berlin').toISOString(), '2026-10-25T01:30:00.000Z');
  assert.equal(nextCronRun('30 2 * * *', new Date('2026-10-25T01:30:00Z'), 'Europe/Berlin').toISOString(), '2026-10-26T01:30:00.000Z');
});

test('nextCronRun is after the whole second it is given, and names an expression that never fires', () => {
  assert.equal(nextCronRun('* * * * * *', new Date('2026-06-15T12:00:00.500Z'), 'UTC').toISOString(), '2026-06-15T12:00:01.000Z');
  assert.equal(nextCronRun('0 0 * * *', new Date('2026-06-15T00:00:00.000Z'), 'UTC').toISOString(), '2026-06-16T00:00:00.000Z');
  assert.throws(() => nextCronRun('0 0 L-30 2 *', new Date('2026-06-15T00:00:00Z'), 'UTC'), /'0 0 L-30 2 \*' does not fire within 30 years/);
});

test('UTC and the host zone are read without Intl (its first use maps 7-8 MiB of ICU data for good)', () => {
  const script = `
    Intl.DateTimeFormat = function () { throw new Error('Intl.DateTimeFormat used'); };
    const { nextCronRun } = await import('./src/agent/kit/cron.ts');
    const { isValidTimeZone, systemTimeZone, timeZone, zonedParts } = await import('./src/agent/kit/zoned-time.ts');
    const zone = timeZone('zone').parse(undefined);
    const next = nextCronRun('30 2 * * *', new Date('2026-03-28T12:00:00Z'), zone).toISOString();
    const utc = nextCronRun('30 2 * * *', new Date('2026-03-28T12:00:00Z'), 'UTC').toISOString();
    console.log(JSON.stringify({ zone, system: systemTimeZone(), valid: isValidTimeZone(zone) && isValidTimeZone('Etc/UTC'), next, utc, hour: zonedParts(new Date('2026-07-01T12:00:00Z'), zone).hour }));
  `;
  const run = (tz: string | undefined) => {
    const env = { ...process.env };
    if (tz === undefined) delete env.TZ;
    else env.TZ = tz;
    return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env, encoding: 'utf8' })) as Record<string, unknown>;
  };
  assert.deepEqual(run('Europe/Berlin'), { zone: 'Europe/Berlin', system: 'Europe/Berlin', valid: true, next: '2026-03-30T00:30:00.000Z', utc: '2026-03-29T02:30:00.000Z', hour: 14 });
  assert.deepEqual(run(':America/New_York'), { zone: 'America/New_York', system: 'America/New_York', valid: true, next: '2026-03-29T06:30:00.000Z', utc: '2026-03-29T02:30:00.000Z', hour: 8 });
  assert.deepEqual(run('Etc/UTC'), { zone: 'UTC', system: 'UTC', valid: true, next: '2026-03-29T02:30:00.000Z', utc: '2026-03-29T02:30:00.000Z', hour: 12 });
});
