import { spawn } from 'node:child_process';
import type { Logger } from 'pino';

/**
 * systemd's notify protocol. Node cannot send a datagram to a unix socket, so each message goes
 * through `systemd-notify`, with `--pid` naming this process (the unit uses NotifyAccess=all, since
 * the sender is a child). Chosen over a native addon so that install needs no compiler and no
 * prebuilt binary. Without NOTIFY_SOCKET every call is a silent no-op.
 */
export class SdNotify {
  private watchdogTimer: NodeJS.Timeout | undefined;
  private readonly enabled: boolean;

  constructor(
    private readonly log: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.enabled = Boolean(env.NOTIFY_SOCKET);
  }

  ready(status?: string): Promise<void> {
    return this.send(['--ready', ...(status ? [`--status=${status}`] : [])]);
  }

  reloading(): Promise<void> {
    // RELOADING=1 must carry MONOTONIC_USEC (systemd 253+); older managers ignore the extra field.
    const monotonicUsec = (process.hrtime.bigint() / 1000n).toString();
    return this.send(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec}`]);
  }

  stopping(): Promise<void> {
    return this.send(['STOPPING=1']);
  }

  status(text: string): Promise<void> {
    return this.send([`--status=${text}`]);
  }

  /** Pings at half of WATCHDOG_USEC from the event loop, so a blocked loop stops the pings and systemd restarts us. */
  startWatchdog(): void {
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!this.enabled || !Number.isFinite(usec) || usec <= 0) return;
    const watchdogPid = this.env.WATCHDOG_PID ? Number(this.env.WATCHDOG_PID) : process.pid;
    if (watchdogPid !== process.pid) return;
    this.watchdogTimer = setInterval(() => void this.send(['WATCHDOG=1']), Math.max(500, usec / 2000));
    this.watchdogTimer.unref();
  }

  stopWatchdog(): void {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  private send(args: string[]): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    return new Promise((resolve) => {
      const child = spawn('systemd-notify', [`--pid=${process.pid}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', (err) => {
        this.log.warn({ err: err.message }, 'systemd-notify could not be run');
        resolve();
      });
      child.on('close', (code) => {
        if (code !== 0) this.log.warn({ code, stderr: stderr.trim(), args }, 'systemd-notify failed');
        resolve();
      });
    });
  }
}
