import { formatTable } from '../kit/cli.js';
import { formatIssue } from '../kit/errors.js';
import type { StatusAnswer } from '../admin/answers.js';

export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : '', `${s}s`].filter(Boolean).slice(0, 2).join('');
}

/** `caretaker status` for people: one header line, one row per module. */
export function formatStatus(status: StatusAnswer): string {
  const rows = status.modules.map((m) => {
    const next = m.nextRuns.map((r) => r.next).filter((n): n is string => n !== null).sort()[0];
    const health = m.state === 'absent' ? 'not configured' : m.state === 'failed' ? 'failed' : (m.health?.status ?? '');
    const message = m.error ?? m.health?.message ?? '';
    return [m.name, health, next ?? '-', message === 'not configured' ? '' : message];
  });
  return [
    `caretaker ${status.version} (node ${status.node}), pid ${status.pid}, up ${formatDuration(status.uptimeSeconds)}`,
    `config ${status.config}; admin ${status.admin ?? '?'}; metrics ${status.metrics ?? '?'}`,
    '',
    ...refusedReload(status),
    ...conflicts(status),
    formatTable(['MODULE', 'HEALTH', 'NEXT RUN', 'MESSAGE'], rows),
  ].join('\n');
}

/** A refused reload stays on screen until a good config is loaded: the next restart would fail on it. */
function refusedReload(status: StatusAnswer): string[] {
  const reload = status.lastReload;
  if (!reload || reload.ok) return [];
  const issues = reload.issues ?? [];
  return [
    `config: reload refused at ${reload.at}; running on the previous config, and a restart would fail (${issues.length} problem${issues.length === 1 ? '' : 's'}):`,
    ...issues.map((issue) => `  ${formatIssue(issue)}`),
    '',
  ];
}

/** A conflict is a warning, not a failure: both tools work, but they step on each other. */
function conflicts(status: StatusAnswer): string[] {
  if (status.conflicts.length === 0) return [];
  return [...status.conflicts.map((c) => `conflict: ${c.module} ${c.item}: ${c.detail}; fix: ${c.fix}`), ''];
}

/** Exit 0 when the config was accepted and every configured module is ok, 1 otherwise. */
export function statusExitCode(status: StatusAnswer): number {
  if (status.lastReload && !status.lastReload.ok) return 1;
  return status.modules.every((m) => m.state === 'absent' || (m.state === 'running' && m.health?.status === 'ok')) ? 0 : 1;
}
