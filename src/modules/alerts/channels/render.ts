import type { AlertLine, Notification } from './channel.js';

/** Bound on one alert's detail in a message: a pg_dump error is a few lines; a stack of them is noise. */
export const DETAIL_MAX_CHARS = 600;

export interface RenderOptions {
  /** The receiver's limit on one message (Telegram 4096, ntfy 4096 bytes); alerts past it are counted, not listed. */
  maxChars?: number;
  /** Leave the title line out, for a receiver that shows it apart (ntfy's Title header). */
  title?: boolean;
}

const MESSAGE_MAX_CHARS = 4000;
// Email subjects and push titles are cut by the receiver anyway; a cut we make keeps the host and counts.
const TITLE_SUMMARY_MAX_CHARS = 120;

/** `[web1] FIRING: redis down` or `[web1] RESOLVED 3: redis down, +2 more`: the line a phone shows first. */
export function renderTitle(notification: Notification): string {
  const { alerts } = notification;
  const firing = alerts.filter((a) => a.status === 'firing').length;
  const resolved = alerts.length - firing;
  const counts =
    firing > 0 && resolved > 0
      ? `FIRING ${firing}, RESOLVED ${resolved}`
      : `${notification.status === 'firing' ? 'FIRING' : 'RESOLVED'}${alerts.length > 1 ? ` ${alerts.length}` : ''}`;
  const first = alerts[0];
  // One line, whatever a module put in its summary: it becomes an email subject and an HTTP header.
  const about = first === undefined ? 'no conditions' : `${clip(headline(first).replace(/\s+/g, ' '), TITLE_SUMMARY_MAX_CHARS)}${alerts.length > 1 ? `, +${alerts.length - 1} more` : ''}`;
  return `${notification.test ? '[TEST] ' : ''}[${notification.host}] ${counts}: ${about}`;
}

/** The whole message as plain text: the title, then each alert with its severity, summary, detail and since. */
export function renderText(notification: Notification, options: RenderOptions = {}): string {
  const maxChars = options.maxChars ?? MESSAGE_MAX_CHARS;
  const lines = options.title === false ? [] : [renderTitle(notification)];
  if (notification.test) lines.push('This is a test message from `caretaker alerts test`: the channel works.');
  let length = lines.join('\n').length;
  // Firing first: what needs a person comes before what no longer does.
  const ordered = [...notification.alerts].sort((a, b) => rank(a) - rank(b));
  for (const [index, alert] of ordered.entries()) {
    const block = `${lines.length === 0 ? '' : '\n'}${renderAlert(alert)}`;
    const rest = ordered.length - index;
    const more = `\n… and ${rest} more`;
    if (length + 1 + block.length + (rest > 1 ? more.length + 1 : 0) > maxChars) {
      lines.push(more);
      break;
    }
    lines.push(block);
    length += 1 + block.length;
  }
  return lines.join('\n');
}

/** Subject and plain-text body of the email for a notification. */
export function renderEmail(notification: Notification): { subject: string; text: string } {
  return {
    subject: renderTitle(notification),
    text: `${renderText(notification, { maxChars: 100_000 })}\n\n-- \ncaretaker on ${notification.host}\n`,
  };
}

/** One alert: `[critical] redis down (probe:redis:down)`, its detail, and since when. */
export function renderAlert(alert: AlertLine): string {
  const label = alert.status === 'resolved' ? 'resolved' : alert.severity;
  const lines = [`[${label}] ${headline(alert)} (${alert.key})`];
  const detail = boundDetail(alert.detail);
  if (detail !== '') lines.push(...detail.split('\n').map((line) => `  ${line}`));
  lines.push(alert.status === 'resolved' && alert.endsAt ? `  firing since ${when(alert.startsAt)}, resolved ${when(alert.endsAt)}` : `  since ${when(alert.startsAt)}`);
  return lines.join('\n');
}

/** The summary, or the key when a resolve came for a condition this process never saw fire (after a restart). */
export function headline(alert: AlertLine): string {
  return alert.summary === '' ? alert.key : alert.summary;
}

export function boundDetail(detail: string): string {
  return clip(detail.trim(), DETAIL_MAX_CHARS);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** `2026-12-01 11:49:41 UTC`: readable on a phone, and the same on every server whatever its zone. */
function when(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function rank(alert: AlertLine): number {
  if (alert.status === 'resolved') return 2;
  return alert.severity === 'critical' ? 0 : 1;
}

/** The highest severity still firing, or of the alerts when all resolved: what a receiver's priority follows. */
export function topSeverity(notification: Notification): 'warning' | 'critical' {
  const firing = notification.alerts.filter((a) => a.status === 'firing');
  return (firing.length > 0 ? firing : notification.alerts).some((a) => a.severity === 'critical') ? 'critical' : 'warning';
}
