import type { z } from 'zod';
import type { configIssue } from './answers.js';

/** Errors that cross a module boundary; each maps to one HTTP status and a stable `error` code. */
export class CaretakerError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
  }
}

export type ConfigIssue = z.infer<typeof configIssue>;

export class ConfigError extends CaretakerError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], options?: ErrorOptions) {
    super(400, 'invalid_config', formatIssues(issues), options);
    this.issues = issues;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.location ? `${issue.location}: ` : '';
  const key = issue.path === '' ? '' : `${issue.path}: `;
  return `${where}${key}${issue.message}`;
}

export function formatIssues(issues: ConfigIssue[]): string {
  return issues.map(formatIssue).join('\n');
}

export class NotFoundError extends CaretakerError {
  constructor(kind: string, name: string) {
    super(404, 'not_found', `no ${kind} named '${name}'`);
  }
}

export class ConflictError extends CaretakerError {
  constructor(message: string, options?: ErrorOptions) {
    super(409, 'conflict', message, options);
  }
}

export class UnavailableError extends CaretakerError {
  constructor(message: string, options?: ErrorOptions) {
    super(503, 'unavailable', message, options);
  }
}

/** The chain of causes as one line, so a log or an API answer names the root cause. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (current instanceof Error) {
      const code = (current as NodeJS.ErrnoException).code;
      parts.push(code && !current.message.includes(code) ? `${current.message} (${code})` : current.message);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.filter((p, i) => p !== '' && p !== parts[i - 1]).join(': ');
}
