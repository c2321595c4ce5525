#!/usr/bin/env bash
# Boots a real systemd (PID 1 of its own PID namespace) in a throw-away systemd-nspawn container,
# so install.sh and caretaker.service can be tested under the service manager that runs them in
# production. Works on a host that is not itself booted with systemd (no machined, no system bus).
#
#   systemd-host.sh deps                 install systemd-container + debootstrap when missing
#   systemd-host.sh rootfs               build the cached bookworm rootfs once (E2E_ROOTFS)
#   systemd-host.sh boot NAME [ARGS..]   boot NAME on a tmpfs overlay of the rootfs (pristine every
#                                        time), extra ARGS go to systemd-nspawn; returns once
#                                        `systemctl is-system-running --wait` answers
#   systemd-host.sh exec NAME CMD..      run CMD in all the container's namespaces, clean env
#   systemd-host.sh stop NAME            power off (SIGKILL after a timeout) and remove leftovers
#
# The rootfs carries Debian 12's own nodejs (18.x). By default boot bind-mounts the host's node
# binary read-only over /usr/bin/node (it needs only libc/libstdc++ from the rootfs);
# E2E_HOST_NODE=0 boots with Debian's node instead.
#
# Environment: E2E_ROOTFS (default /var/tmp/caretaker-e2e-rootfs), E2E_STATE (default
# /run/caretaker-e2e), E2E_MIRROR (default: the host's first apt mirror), E2E_BOOT_TIMEOUT (s, 60),
# E2E_HOST_NODE (1: the host's node at /usr/bin/node; 0: the rootfs's own).
set -euo pipefail

ROOTFS=${E2E_ROOTFS:-/var/tmp/caretaker-e2e-rootfs}
STATE=${E2E_STATE:-/run/caretaker-e2e}
BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-60}
# Bump when PACKAGES or the rootfs tweaks change: a stale cache is rebuilt, never reused.
ROOTFS_VERSION=3
PACKAGES=systemd,systemd-sysv,dbus,libnss-systemd,procps,iproute2
# What test/e2e/production.test.ts runs beside caretaker, as Debian packages them. polkitd answers
# systemctl's authorization questions for the caretaker user (it needs a logind: libpam-systemd); curl
# is the health script.
PACKAGES+=,nginx,postgresql,redis-server,pebble,prometheus,polkitd,libpam-systemd,curl
# Debian 12's Node.js 18, the oldest caretaker supports: what a server with the distribution's node runs.
PACKAGES+=,nodejs
# Installed, not started at boot: a test starts the ones it uses, so a boot stays short and quiet.
BOOT_DISABLED=(nginx postgresql redis-server prometheus)
CGROUP_ROOTS=(/sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup)

log() { printf '[systemd-host %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

host_mirror() {
  grep -hoE '(URIs:|^deb) +https?://[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -n1 | awk '{print $2}'
}

cmd_deps() {
  command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null && return 0
  log "installing systemd-container debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends systemd-container debootstrap >/dev/null
}

cmd_rootfs() {
  cmd_deps
  local stamp="$ROOTFS/.caretaker-e2e-v$ROOTFS_VERSION"
  [[ -f $stamp ]] && return 0
  # Two e2e files started at once share one build: the second waits, then finds the cache.
  exec 9>"$ROOTFS.lock"
  flock 9
  if [[ -f $stamp ]]; then exec 9>&-; return 0; fi
  local mirror=${E2E_MIRROR:-$(host_mirror)} started=$SECONDS
  [[ -n $mirror ]] || die "no Debian mirror found in the apt sources; set E2E_MIRROR"
  # Build beside the cache and rename at the end, so an interrupted build never looks cached.
  local tmp="$ROOTFS.partial"
  remove_tree "$tmp"
  log "debootstrap bookworm minbase+$PACKAGES from $mirror (one time, cached in $ROOTFS)"
  if ! debootstrap --variant=minbase --include="$PACKAGES" bookworm "$tmp" "$mirror" >"$tmp.log" 2>&1; then
    tail -n 20 "$tmp.log" >&2
    die "debootstrap failed (full log: $tmp.log)"
  fi
  rm -f "$tmp.log"
  rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
  : >"$tmp/etc/machine-id"   # empty: nspawn hands each boot a transient id
  # Timers and gettys only add noise and boot time to a container that lives for a minute.
  rm -f "$tmp"/etc/systemd/system/timers.target.wants/*.timer \
    "$tmp"/etc/systemd/system/getty.target.wants/getty@tty1.service
  local unit
  for unit in "${BOOT_DISABLED[@]}"; do rm -f "$tmp/etc/systemd/system/multi-user.target.wants/$unit.service"; done
  touch "$tmp/.caretaker-e2e-v$ROOTFS_VERSION"
  remove_tree "$ROOTFS"
  mv "$tmp" "$ROOTFS"
  log "rootfs built in $((SECONDS - started))s ($(du -sh "$ROOTFS" | cut -f1))"
  exec 9>&-   # not inherited by the container booted next
}

# An interrupted debootstrap can leave proc/sys mounted inside: unmount, then stay on one filesystem.
remove_tree() {
  [[ -e $1 ]] || return 0
  # grep finding no mount is the usual case, not a failure (pipefail).
  findmnt -rn -o TARGET | { grep -F "$1/" || true; } | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$1"
}

state_of() { printf '%s/%s' "$STATE" "$1"; }

init_pid() {
  local file; file="$(state_of "$1")/init.pid"
  [[ -f $file ]] || die "container $1 is not running"
  cat "$file"
}

ct_exec() {
  local name=$1; shift
  local pid; pid=$(init_pid "$name")
  nsenter -t "$pid" -a -- /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root TERM=dumb LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

cmd_boot() {
  local name=${1:?usage: boot NAME [nspawn args]}; shift
  [[ $name =~ ^[a-z0-9-]+$ ]] || die "container name must be [a-z0-9-]+"
  cmd_rootfs
  local dir; dir=$(state_of "$name")
  [[ ! -e $dir/nspawn.pid ]] || die "container $name is already booted ($dir)"
  mkdir -p "$dir"
  local started=$SECONDS
  # nspawn started from the root cgroup always nests under /payload and /supervisor; a parent cgroup
  # per container keeps two concurrent containers (and leftovers of a crashed run) apart.
  local cgroup="caretaker-e2e-$name" root
  for root in "${CGROUP_ROOTS[@]}"; do
    [[ -f $root/cgroup.procs ]] && mkdir -p "$root/$cgroup"
  done
  echo "$cgroup" >"$dir/cgroup"
  # --register=no --keep-unit: there is no machined or system bus on the host.
  # --volatile=overlay: writes go to a tmpfs, the cached rootfs stays pristine.
  # --private-network: the container sees only its own loopback.
  local node_args=(--bind-ro=/usr/bin/node)
  case ${E2E_HOST_NODE:-1} in
    1) ;;
    0) node_args=() ;;
    *) die "E2E_HOST_NODE must be 1 (the host's node) or 0 (the rootfs's own), not '$E2E_HOST_NODE'" ;;
  esac
  (
    for root in "${CGROUP_ROOTS[@]}"; do
      [[ -d $root/$cgroup ]] && echo "$BASHPID" >"$root/$cgroup/cgroup.procs"
    done
    exec setsid systemd-nspawn --quiet --boot --directory="$ROOTFS" \
      --machine="$name" --hostname="$name" --register=no --keep-unit \
      --volatile=overlay --private-network --console=pipe \
      "${node_args[@]}" "$@" </dev/null >"$dir/console.log" 2>&1
  ) &
  local nspawn=$!
  echo "$nspawn" >"$dir/nspawn.pid"
  local init="" _
  for _ in $(seq 1 $((BOOT_TIMEOUT * 10))); do
    kill -0 "$nspawn" 2>/dev/null || { cat "$dir/console.log" >&2; die "systemd-nspawn exited during boot"; }
    init=$(pgrep -P "$nspawn" -x systemd || true)
    [[ -n $init && -S /proc/$init/root/run/systemd/private ]] && break
    init=""
    sleep 0.1
  done
  [[ -n $init ]] || die "the container's systemd did not come up in ${BOOT_TIMEOUT}s"
  echo "$init" >"$dir/init.pid"
  local state
  state=$(timeout "$BOOT_TIMEOUT" nsenter -t "$init" -a systemctl is-system-running --wait 2>/dev/null || true)
  log "container $name booted in $((SECONDS - started))s (state $state, init pid $init)"
  if [[ $state != running ]]; then
    ct_exec "$name" systemctl --failed --no-pager >&2 || true
    [[ $state == degraded ]] || die "boot ended in state '$state'"
  fi
}

cmd_stop() {
  local name=${1:?usage: stop NAME}
  local dir; dir=$(state_of "$name")
  [[ -d $dir ]] || return 0
  local nspawn init _
  nspawn=$(cat "$dir/nspawn.pid" 2>/dev/null || true)
  init=$(cat "$dir/init.pid" 2>/dev/null || true)
  if [[ -n $nspawn ]] && kill -0 "$nspawn" 2>/dev/null; then
    # SIGRTMIN+4 to the container's systemd is `systemctl poweroff`.
    if [[ -n $init ]]; then kill -s SIGRTMIN+4 "$init" 2>/dev/null || true; fi
    for _ in $(seq 1 300); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$nspawn" 2>/dev/null; then
      log "poweroff of $name timed out; killing systemd-nspawn $nspawn"
      kill -KILL "$nspawn" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  local cgroup root
  cgroup=$(cat "$dir/cgroup" 2>/dev/null || true)
  if [[ -n $cgroup ]]; then
    for root in "${CGROUP_ROOTS[@]}"; do
      if [[ -d $root/$cgroup ]]; then find "$root/$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done
  fi
  rm -rf "/run/systemd/nspawn/propagate/$name" "$dir"
}

case "${1:-}" in
  deps) cmd_deps ;;
  rootfs) cmd_rootfs ;;
  boot) shift; cmd_boot "$@" ;;
  exec) shift; name=${1:?usage: exec NAME CMD..}; shift; ct_exec "$name" "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
