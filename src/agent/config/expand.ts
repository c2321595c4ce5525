import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfigIssue } from '../kit/errors.js';

export type PathSegment = string | number;

export interface ExpandResult {
  value: unknown;
  /** Every value that came from a reference: treated as secret and scrubbed from logs. */
  secrets: string[];
  issues: Array<{ path: PathSegment[]; message: string }>;
}

export interface ExpandEnvironment {
  env: NodeJS.ProcessEnv;
  /** systemd's `$CREDENTIALS_DIRECTORY` (from `LoadCredential=`). */
  credentialsDirectory?: string;
}

const REFERENCE = /\$\$\{|\$\{(env|file|credential):([^}]*)\}/g;

async function resolve(kind: string, arg: string, environment: ExpandEnvironment): Promise<string> {
  switch (kind) {
    case 'env': {
      const value = environment.env[arg];
      if (value === undefined) throw new Error(`environment variable ${arg} is not set (from \${env:${arg}})`);
      return value;
    }
    case 'file': {
      if (!arg.startsWith('/')) throw new Error(`\${file:${arg}} needs an absolute path`);
      try {
        return (await readFile(arg, 'utf8')).replace(/\r?\n$/, '');
      } catch (err) {
        throw new Error(`cannot read ${arg} (from \${file:${arg}}): ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
    }
    default: {
      const dir = environment.credentialsDirectory;
      if (!dir) throw new Error(`\${credential:${arg}} needs systemd's LoadCredential= (CREDENTIALS_DIRECTORY is not set)`);
      if (!/^[A-Za-z0-9_.-]+$/.test(arg) || arg.startsWith('.')) throw new Error(`'${arg}' is not a valid credential name`);
      try {
        return (await readFile(join(dir, arg), 'utf8')).replace(/\r?\n$/, '');
      } catch (err) {
        throw new Error(`cannot read credential ${arg}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
    }
  }
}

async function expandString(text: string, environment: ExpandEnvironment, secrets: string[]): Promise<string> {
  const parts: string[] = [];
  let last = 0;
  for (const match of text.matchAll(REFERENCE)) {
    parts.push(text.slice(last, match.index));
    last = match.index + match[0].length;
    if (match[0] === '$${') {
      parts.push('${');
      continue;
    }
    const value = await resolve(match[1]!, match[2]!, environment);
    secrets.push(value);
    parts.push(value);
  }
  parts.push(text.slice(last));
  return parts.join('');
}

/** Replaces `${env:NAME}`, `${file:/path}` and `${credential:NAME}` in every string of a parsed document; `$${` is a literal `${`. */
export async function expandReferences(document: unknown, environment: ExpandEnvironment): Promise<ExpandResult> {
  const secrets: string[] = [];
  const issues: ExpandResult['issues'] = [];
  async function walk(value: unknown, path: PathSegment[]): Promise<unknown> {
    if (typeof value === 'string') {
      if (!value.includes('${')) return value;
      try {
        return await expandString(value, environment, secrets);
      } catch (err) {
        issues.push({ path, message: (err as Error).message });
        return value;
      }
    }
    if (Array.isArray(value)) return Promise.all(value.map((item, i) => walk(item, [...path, i])));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = await walk(item, [...path, key]);
      return out;
    }
    return value;
  }
  const value = await walk(document, []);
  return { value, secrets, issues };
}

export function toIssue(path: PathSegment[], message: string): ConfigIssue {
  return { path: path.join('.'), message };
}
