import { spawn } from 'node:child_process';
import { fstatSync, write } from 'node:fs';
import type { Logger } from 'pino';

/** Sends one notify message, a list of `KEY=value` assignments. */
type Transport = (assignments: string[]) => Promise<void>;

/**
 * systemd's notify protocol. Node cannot open a unix datagram socket, so there are two ways out:
 *
 * - `CARETAKER_NOTIFY_FD`: the unit starts us through `systemd/notify-fd-exec`, which connects the
 *   socket and execs the daemon in its own PID. A write on that descriptor comes from the main
 *   process, which is what `NotifyAccess=main` accepts; it also costs no process per watchdog ping.
 * - otherwise `systemd-notify --pid=<us>` as a child, which needs `NotifyAccess=all`.
 *
 * Without NOTIFY_SOCKET every call is a silent no-op.
 */
export class SdNotify {
  private watchdogTimer: NodeJS.Timeout | undefined;
  private readonly transport: Transport | undefined;

  constructor(
    private readonly log: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    if (!env.NOTIFY_SOCKET) return;
    const fd = socketDescriptor(env.CARETAKER_NOTIFY_FD);
    if (fd !== undefined) {
      this.transport = (assignments) => this.writeTo(fd, assignments);
      // Children (deploy commands, dump tools) must not speak to systemd in our name.
      delete env.NOTIFY_SOCKET;
      delete env.CARETAKER_NOTIFY_FD;
    } else {
      if (env.CARETAKER_NOTIFY_FD) log.warn({ fd: env.CARETAKER_NOTIFY_FD }, 'CARETAKER_NOTIFY_FD is not an open socket; using systemd-notify');
      this.transport = (assignments) => this.runSystemdNotify(assignments);
    }
  }

  ready(status?: string): Promise<void> {
    return this.send(['READY=1', ...(status ? [statusLine(status)] : [])]);
  }

  reloading(): Promise<void> {
    // RELOADING=1 must carry MONOTONIC_USEC (systemd 253+); older managers ignore the extra field.
    const monotonicUsec = (process.hrtime.bigint() / 1000n).toString();
    return this.send(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec}`]);
  }

  stopping(): Promise<void> {
    return this.send(['STOPPING=1']);
  }

  /** Pings at half of WATCHDOG_USEC from the event loop, so a blocked loop stops the pings and systemd restarts us. */
  startWatchdog(): void {
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!this.transport || !Number.isFinite(usec) || usec <= 0) return;
    const watchdogPid = this.env.WATCHDOG_PID ? Number(this.env.WATCHDOG_PID) : process.pid;
    if (watchdogPid !== process.pid) return;
    this.watchdogTimer = setInterval(() => void this.send(['WATCHDOG=1']), Math.max(500, usec / 2000));
    this.watchdogTimer.unref();
  }

  stopWatchdog(): void {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  private send(assignments: string[]): Promise<void> {
    return this.transport ? this.transport(assignments) : Promise.resolve();
  }

  /** One datagram per message. fs.write runs on the thread pool, so a stalled manager never blocks the event loop. */
  private writeTo(fd: number, assignments: string[]): Promise<void> {
    return new Promise((resolve) => {
      write(fd, Buffer.from(assignments.join('\n')), (err) => {
        if (err) this.log.warn({ err: err.message, assignments }, 'notify socket write failed');
        resolve();
      });
    });
  }

  private runSystemdNotify(assignments: string[]): Promise<void> {
    return new Promise((resolve) => {
      const child = spawn('systemd-notify', [`--pid=${process.pid}`, ...assignments], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', (err) => {
        this.log.warn({ err: err.message }, 'systemd-notify could not be run');
        resolve();
      });
      child.on('close', (code) => {
        if (code !== 0) this.log.warn({ code, stderr: stderr.trim(), assignments }, 'systemd-notify failed');
        resolve();
      });
    });
  }
}

/** The descriptor named by CARETAKER_NOTIFY_FD when it is an open socket. */
function socketDescriptor(value: string | undefined): number | undefined {
  if (!value || !/^\d+$/.test(value)) return undefined;
  const fd = Number(value);
  try {
    return fstatSync(fd).isSocket() ? fd : undefined;
  } catch {
    return undefined;
  }
}

/** A notify message is newline-separated, so a status must be one line. */
function statusLine(text: string): string {
  return `STATUS=${text.replace(/\s*\n\s*/g, ' ')}`;
}
