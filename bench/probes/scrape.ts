// The bench's HTTP client (what Prometheus would be) and the once-per-second request loops.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

// Prometheus keeps one connection per target; so does this agent.
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface Response {
  status: number;
  body: string;
  ms: number;
}

/** GET with a deadline; the body is read fully, and the time covers it. */
export function get(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<Response> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: keepAlive, headers, signal: AbortSignal.timeout(timeoutMs) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

export interface Tally {
  ok: number;
  failed: number;
  latenciesMs: number[];
}

/**
 * Calls `check` at `offsetMs` past every whole second from `startMs` until `endMs`, never two at once for
 * the same loop (a call that overruns its second skips the missed slots, as Prometheus does).
 * Only calls that start in [countFromMs, endMs) are tallied.
 */
export async function everySecond(
  check: () => Promise<{ ok: boolean; ms: number }>,
  opts: { startMs: number; offsetMs: number; countFromMs: number; endMs: number },
  tally: Tally,
): Promise<void> {
  for (let slot = 0; ; slot++) {
    const at = opts.startMs + slot * 1000 + opts.offsetMs;
    if (at >= opts.endMs) return;
    if (at < Date.now()) continue;
    await sleep(at - Date.now());
    const counted = at >= opts.countFromMs;
    const result = await check().catch(() => ({ ok: false, ms: 0 }));
    if (!counted) continue;
    if (result.ok) {
      tally.ok++;
      tally.latenciesMs.push(result.ms);
    } else {
      tally.failed++;
    }
  }
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
