import { readFile } from 'node:fs/promises';

/** A user or group given by name or id → the numeric id, from /etc/passwd or /etc/group (Node has no getpwnam). */
export async function resolveId(value: string | number, kind: 'user' | 'group'): Promise<number> {
  if (typeof value === 'number') return value;
  if (/^\d+$/.test(value)) return Number(value);
  const database = kind === 'user' ? '/etc/passwd' : '/etc/group';
  const text = await readFile(database, 'utf8');
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === value && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2]);
  }
  throw new Error(`no ${kind} named '${value}' in ${database}`);
}
