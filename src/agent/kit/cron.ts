import cron from 'node-cron';
import { z } from 'zod';

/** Why `expression` is not a cron expression the agent's scheduler (node-cron) reads, or undefined when it is one. */
export function cronProblem(expression: string): string | undefined {
  const result = cron.validateDetailed(expression);
  if (result.valid) return undefined;
  return result.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'invalid cron expression';
}

/** A schedule field: a cron expression checked at load the way the scheduler will read it. */
export function cronExpression() {
  return z
    .string({ error: 'expected a cron expression such as "0 2 * * *"' })
    .superRefine((expression, ctx) => {
      const problem = cronProblem(expression);
      if (problem) ctx.addIssue({ code: 'custom', message: `'${expression}' is not a cron expression (${problem})` });
    })
    .meta({ description: 'cron expression: minute hour day-of-month month day-of-week, with an optional leading seconds field (e.g. "0 2 * * *")' });
}

/** What each field of an expression matches: numbers, and special tokens such as `L` as written. */
export interface CronFields {
  second: number[];
  minute: number[];
  hour: number[];
  dayOfMonth: Array<number | string>;
  month: number[];
  dayOfWeek: Array<number | string>;
}

/** The fields of a valid expression as the scheduler reads them, for reasoning about its past runs. */
export function cronFields(expression: string): CronFields {
  return cron.parse(expression) as CronFields;
}
