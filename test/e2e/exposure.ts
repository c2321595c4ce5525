/**
 * The exposure `systemd-analyze security` may report for caretaker.service (systemd 252 weights).
 * Not the 2.0 first aimed at: a root service that needs the network and chowns, signals and
 * inspects other users' files and processes cannot get there. What remains, as systemd 252 counts
 * it: PrivateNetwork=no 0.5, root 0.4, AF_INET/AF_INET6 0.3, CAP_SYS_PTRACE 0.3 (the logs module
 * reads /proc/<pid>/fd of writers running as other users, as fuser does), CAP_CHOWN 0.2,
 * CAP_DAC_OVERRIDE/CAP_FOWNER 0.2, @privileged syscalls (chown) 0.2, IPAddressDeny 0.2,
 * NotifyAccess=all 0.2 (systemd-notify is a child), PrivateUsers 0.2, and 0.1 each for CAP_KILL,
 * CAP_NET_BIND_SERVICE, AF_UNIX, ProcSubset, UMask, RootDirectory, MemoryDenyWriteExecute and the
 * char-rtc read that ProtectClock adds. docs/install.md explains each and how to go lower.
 */
export const MAX_EXPOSURE = 2.7;

/** The number in "→ Overall exposure level for caretaker.service: 2.7 OK". */
export function exposureOf(report: string): number {
  const match = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(report);
  if (!match) throw new Error(`no exposure level in:\n${report}`);
  return Number(match[1]);
}
