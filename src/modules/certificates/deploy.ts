import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { describeError } from '../../agent/kit/errors.js';
import { runShellCommand } from '../../agent/kit/unit-control.js';

/** After a new certificate is live: run the deploy command, then optionally check what a TLS server presents. */

/** How long a reloaded server may take to present the new certificate (nginx swaps workers asynchronously). */
const VERIFY_WINDOW_MS = 10_000;
const VERIFY_CONNECT_TIMEOUT_MS = 3_000;
/**
 * Handshakes in a row that must present the new serial: right after a reload, nginx's old workers
 * still accept on the shared socket until they see their QUIT, so one new answer can be followed by an old one.
 */
const VERIFY_CONFIRMATIONS = 3;
const VERIFY_RETRY_MS = 250;
const VERIFY_CONFIRM_MS = 100;

export async function runDeployCommand(command: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  await runShellCommand(command, { signal, timeoutMs });
}

function splitHostPort(target: string): { host: string; port: number } {
  const index = target.lastIndexOf(':');
  return { host: target.slice(0, index).replace(/^\[|\]$/g, ''), port: Number(target.slice(index + 1)) };
}

/** The serial (uppercase hex, as X509Certificate.serialNumber) that host:port presents for `servername`. */
export function servedSerial(target: string, servername: string, signal?: AbortSignal): Promise<string> {
  const { host, port } = splitHostPort(target);
  return new Promise((resolve, reject) => {
    // Identity is not the question here, only which certificate is served, so the chain is not verified.
    const socket = tls.connect({ host, port, servername, rejectUnauthorized: false });
    const onAbort = () => socket.destroy(new Error('cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => signal?.removeEventListener('abort', onAbort));
    socket.setTimeout(VERIFY_CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`no TLS handshake with ${target} within ${VERIFY_CONNECT_TIMEOUT_MS} ms`)));
    socket.once('secureConnect', () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      if (serial) resolve(serial.toUpperCase());
      else reject(new Error(`${target} presented no certificate`));
    });
    socket.once('error', reject);
  });
}

/** Polls until the target serves `serial` on several handshakes in a row; throws with what it served instead. */
export async function verifyServed(target: string, servername: string, serial: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + VERIFY_WINDOW_MS;
  let last = '';
  let inARow = 0;
  for (;;) {
    try {
      const served = await servedSerial(target, servername, signal);
      inARow = served === serial.toUpperCase() ? inARow + 1 : 0;
      if (inARow >= VERIFY_CONFIRMATIONS) return;
      if (inARow === 0) last = `serves serial ${served}`;
    } catch (err) {
      inARow = 0;
      last = describeError(err);
    }
    if (Date.now() > deadline || signal.aborted) throw new Error(`${target} does not serve the new certificate (serial ${serial}): ${last || 'not steadily'}`);
    await sleep(inARow > 0 ? VERIFY_CONFIRM_MS : VERIFY_RETRY_MS, undefined, { signal }).catch(() => undefined);
  }
}

/** SNI for the check: the first name that is not a wildcard (a wildcard's base otherwise). */
export function servernameFor(domains: string[]): string {
  return domains.find((d) => !d.startsWith('*.')) ?? domains[0]!.slice(2);
}
