import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cronExpression, cronFields, cronProblem } from '../../../src/agent/kit/cron.js';

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
