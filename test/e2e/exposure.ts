/**
 * The exposure `systemd-analyze security` may report for caretaker.service (systemd 252 weights),
 * the target. What remains, as systemd 252 counts it: PrivateNetwork=no 0.5, AF_INET/AF_INET6
 * 0.3, CAP_CHOWN 0.2, CAP_DAC_OVERRIDE/CAP_FOWNER 0.2, @privileged syscalls (chown) 0.2,
 * IPAddressDeny 0.2, PrivateUsers 0.2, and 0.1 each for ambient capabilities, CAP_KILL,
 * CAP_NET_BIND_SERVICE, AF_UNIX, ProcSubset, UMask, RootDirectory, MemoryDenyWriteExecute and the
 * char-rtc read that ProtectClock adds. docs/install.md explains each.
 */
export const MAX_EXPOSURE = 2.0;

/** The number in "→ Overall exposure level for caretaker.service: 2.7 OK". */
export function exposureOf(report: string): number {
  const match = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(report);
  if (!match) throw new Error(`no exposure level in:\n${report}`);
  return Number(match[1]);
}
