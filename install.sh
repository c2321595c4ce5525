#!/usr/bin/env bash
# Installs, upgrades or removes caretaker on a systemd server. Run as root from a release tarball
# (caretaker-<version>/) or from a built checkout; needs no network.
#
#   ./install.sh              install or upgrade, then start and wait until the daemon is ready
#   ./install.sh --detect     same, but write a starting config for what runs here (Redis,
#                             PostgreSQL, nginx logs, certbot lineages) instead of the example
#   ./install.sh --dry-run    print what would change, change nothing
#   ./install.sh --allow-unit UNIT
#                             also let the daemon `systemctl reload|restart UNIT` (a deploy or
#                             reopen command), through a polkit rule for those verbs on those units
#                             only; repeatable, remembered across upgrades. Units that such commands
#                             in the installed config name are allowed without it.
#   ./install.sh --uninstall  stop and remove the program and the unit; keep config, state,
#                             certificates and backups
#   ./install.sh --purge [--yes]
#                             --uninstall, and remove config, state and backups too (not
#                             /etc/letsencrypt); asks first on a terminal, needs --yes without one
#   ./install.sh --package [--out DIR] [--with-node [--node PATH]]
#                             in a checkout: build and write caretaker-<version>.tar.gz, the
#                             release tarball (the bundle and its chunks, no node_modules); with
#                             --with-node, caretaker-<version>-node<major>-linux-<arch>.tar.gz,
#                             which carries the Node.js runtime too (this machine's `node`, or PATH)
#                             for servers without Node.js
#
# Running it twice changes nothing the second time. The config file is created only when absent:
# an upgrade never touches it.
set -euo pipefail
umask 022

readonly PREFIX=/opt/caretaker
readonly BIN=/usr/local/bin/caretaker
readonly CONF_DIR=/etc/caretaker
readonly CONFIG=$CONF_DIR/caretaker.yaml
readonly STATE_DIR=/var/lib/caretaker
readonly BACKUP_DIR=/var/backups/caretaker
readonly CERT_DIR=/etc/letsencrypt
readonly SERVICE_USER=caretaker
readonly UNIT_NAME=caretaker.service
readonly UNIT=/etc/systemd/system/$UNIT_NAME
# The oldest Node.js it runs on: Debian 12's and Ubuntu 24.04's own nodejs package (18.19, 18.20).
readonly NODE_MIN=18.19
# Units the daemon may reload/restart (read by the daemon at config load), and the polkit rule granting it.
readonly ALLOWED_UNITS=$CONF_DIR/allowed-units
readonly POLKIT_RULE=/etc/polkit-1/rules.d/50-caretaker.rules
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SRC
# What a release carries, relative to its root; a checkout has the same layout once built. The
# bundle's chunks (code loaded only when a module needs it) have content-hashed names, so they are
# listed from the build rather than named here.
# install.sh and the unit are installed too, so that `/opt/caretaker/install.sh --allow-unit ...` works later.
# A self-contained release also has bin/node, listed by program_files when present.
readonly STATIC_FILES=(dist/caretaker.mjs dist/caretaker.mjs.map systemd/notify-fd-exec docs/caretaker.schema.json docs/install.md examples/caretaker.yaml examples/full.yaml install.sh systemd/caretaker.service)
program_files() {
  printf '%s\n' "${STATIC_FILES[@]}"
  [[ ! -f $SRC/bin/node ]] || echo bin/node
  if [[ -d $SRC/dist/chunks ]]; then
    (cd "$SRC" && find dist/chunks -type f \( -name '*.mjs' -o -name '*.mjs.map' \) | LC_ALL=C sort)
  fi
}

action=install
dry_run=0
purge=0
yes=0
detect=0
out_dir=$PWD
changes=0
allow_units=()
with_node=0
node_for_package=""

say() { printf '%s\n' "$*"; }
warn() { printf 'install.sh: %s\n' "$*" >&2; }
die() { warn "$*"; exit 1; }

# The comment block at the top of this file, whatever its length.
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# Every change to the system goes through here, so --dry-run shows exactly what a real run does.
change() {
  changes=$((changes + 1))
  if ((dry_run)); then
    say "would: $*"
  else
    say "  $*"
    "$@"
  fi
}

parse_args() {
  while (($#)); do
    case $1 in
      --dry-run) dry_run=1 ;;
      --uninstall) action=uninstall ;;
      --purge) action=uninstall; purge=1 ;;
      --yes) yes=1 ;;
      --detect) detect=1 ;;
      --package) action=package ;;
      --out) shift; out_dir=${1:?--out needs a directory} ;;
      --with-node) with_node=1 ;;
      --node) shift; node_for_package=${1:?--node needs the path of a node binary} ;;
      --allow-unit) shift; allow_units+=("${1:?--allow-unit needs a unit name, e.g. nginx.service}") ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
}

require_root() {
  ((EUID == 0)) || ((dry_run)) || die "run as root (sudo $0)"
}

require_systemd() {
  [[ -d /run/systemd/system ]] || die "this system is not running systemd; caretaker needs it as its service manager"
}

# Exit 0 when $1 is a Node.js of at least NODE_MIN.
node_supported() {
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); const [x, y] = process.argv[1].split(".").map(Number); process.exit(a > x || (a === x && b >= y) ? 0 : 1)' "$NODE_MIN" 2>/dev/null
}

# Where a node binary came from, for the person installing: a package, or not. A binary copied over a
# packaged path is not that package's: the package's version must be the binary's own.
node_origin() {
  local node=$1 version package package_version
  version=$("$node" --version)
  package=$(dpkg -S "$node" 2>/dev/null | head -n1 | cut -d: -f1 || true)
  [[ -n $package ]] && package_version=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || true)
  if [[ -n $package && ${package_version#*:} == "${version#v}"* ]]; then
    printf 'package %s %s\n' "$package" "$package_version"
  elif [[ -n $package ]]; then
    printf 'not the %s %s its path belongs to\n' "$package" "$package_version"
  else
    printf 'not from a Debian package\n'
  fi
}

# The Node.js the daemon and the CLI will run on: the one this release carries, else the system's.
node_path() {
  if [[ -f $SRC/bin/node ]]; then
    node_supported "$SRC/bin/node" || die "the Node.js shipped in this release ($SRC/bin/node) does not run here: $("$SRC/bin/node" --version 2>&1 | head -n1)"
    printf '%s\n' "$PREFIX/bin/node"
    return 0
  fi
  local node
  node=$(command -v node || true)
  if [[ -z $node ]]; then
    die "Node.js >= $NODE_MIN is required and 'node' is not on PATH.
  Debian 12 / Ubuntu 24.04: apt-get install nodejs (the distribution's 18.x is enough),
  or use the self-contained release, which carries its own Node.js (caretaker-<version>-node<N>-linux-<arch>.tar.gz)"
  fi
  node_supported "$node" || die "Node.js >= $NODE_MIN is required, $node is $("$node" --version).
  Debian 12 / Ubuntu 24.04: apt-get install nodejs from the distribution, or use the self-contained release"
  readlink -f "$node"
}

# One line on the Node.js chosen: path, version, origin.
describe_node() {
  local node=$1
  if [[ $node == "$PREFIX/bin/node" ]]; then
    printf '%s %s (shipped in this release)\n' "$node" "$("$SRC/bin/node" --version)"
  else
    printf '%s %s (%s)\n' "$node" "$("$node" --version)" "$(node_origin "$node")"
  fi
}

require_built_source() {
  local file files
  mapfile -t files < <(program_files)
  for file in "${files[@]}" systemd/$UNIT_NAME; do
    [[ -f $SRC/$file ]] || die "$SRC/$file is missing: run this from a release tarball, or build the checkout first (npm ci && npm run build)"
  done
}

# Installs $2 from file $1 with mode $3 when the content or mode differs; returns 0 when it did.
install_file() {
  local from=$1 to=$2 mode=$3
  if [[ -f $to ]] && cmp -s "$from" "$to" && [[ $(stat -c %a "$to") == "${mode#0}" ]]; then
    return 1
  fi
  change install -D -m "$mode" "$from" "$to"
}

# ensure_dir DIR MODE [OWNER:GROUP [-R]]
ensure_dir() {
  local dir=$1 mode=$2 owner=${3:-root:root} recursive=${4:-}
  if [[ ! -d $dir ]]; then
    change install -d -m "$mode" -o "${owner%:*}" -g "${owner#*:}" "$dir"
    return 0
  fi
  [[ $(stat -c %a "$dir") == "${mode#0}" ]] || change chmod "$mode" "$dir"
  ensure_owner "$dir" "$owner" ${recursive:+"$recursive"}
}

# ensure_owner PATH OWNER:GROUP [-R]: a directory of an install made before the service user
# existed is given to it, with what is inside (-R).
ensure_owner() {
  local path=$1 owner=$2
  [[ $(stat -c %U:%G "$path") == "$owner" ]] || change chown ${3:+"$3"} "$owner" "$path"
}

# The daemon runs as its own system user; root keeps the config it reads (group caretaker, 0640).
ensure_user() {
  id -u "$SERVICE_USER" >/dev/null 2>&1 && return 0
  change useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
    --shell /usr/sbin/nologin --comment "caretaker daemon" "$SERVICE_USER"
}

# ------------------------------------------------------------------------------------ detection

port_open() { timeout 1 bash -c ": >/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

postgres_databases() {
  command -v psql >/dev/null && id postgres >/dev/null 2>&1 || return 0
  timeout 5 runuser -u postgres -- psql -XAtqc \
    "select datname from pg_database where not datistemplate and datname <> 'postgres' order by 1" 2>/dev/null || true
}

# A starting config for what runs on this host: every section is one that validates.
detected_config() {
  local redis=0 postgres=0 nginx=0
  { port_open 6379 || command -v redis-server >/dev/null; } && redis=1
  { port_open 5432 || compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; } && postgres=1
  [[ -d /var/log/nginx ]] && command -v nginx >/dev/null && nginx=1
  local databases=()
  ((postgres)) && mapfile -t databases < <(postgres_databases)
  ((${#databases[@]})) || databases=(postgres)

  cat <<EOF
# /etc/caretaker/caretaker.yaml written by \`install.sh --detect\` for what runs on $(hostname).
# Review it, validate with \`caretaker check-config\`, apply with \`systemctl reload caretaker\`.
# The full example with every section: $PREFIX/examples/full.yaml

agent:
  stateDir: $STATE_DIR
  logLevel: info

admin:
  listen: 127.0.0.1:9470

metrics:
  listen: 127.0.0.1:9471
  host: true
EOF
  if ((redis || postgres)); then
    printf '\nprobes:\n'
    ((redis)) && printf '  - { name: redis, type: redis, url: "redis://127.0.0.1:6379", interval: 15s, timeout: 2s, critical: true }\n'
    ((postgres)) && printf '  - { name: postgres, type: postgres, url: "postgres://postgres@127.0.0.1:5432/postgres", interval: 15s, critical: true }\n'
    # shellcheck disable=SC2016 # ${...} is caretaker's syntax, written literally
    printf '\n# A password goes in the URL as ${credential:NAME} (LoadCredential= in a drop-in) or ${file:/path}.\n'
    printf 'backups:\n  dir: %s\n  jobs:\n' "$BACKUP_DIR"
    if ((postgres)); then
      local db
      for db in "${databases[@]}"; do
        printf '    - { name: pg-%s, type: postgres, url: "postgres://postgres@127.0.0.1:5432/%s", schedule: "0 2 * * *",\n' "$db" "$db"
        printf '        retention: { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 } }\n'
      done
    fi
    ((redis)) && printf '    - { name: redis, type: redis, url: "redis://127.0.0.1:6379", schedule: "0 */6 * * *", retention: { keepDaily: 7 } }\n'
  fi
  # The logrotate files of what was detected, as `caretaker adopt logrotate --dry-run` maps them (it changes nothing).
  local rotated=() file adopted=""
  for file in $( ((nginx)) && echo /etc/logrotate.d/nginx) $( ((postgres)) && echo /etc/logrotate.d/postgresql-common) $( ((redis)) && echo /etc/logrotate.d/redis-server); do
    [[ -f $file ]] && rotated+=("$file")
  done
  if ((${#rotated[@]})) && [[ -x $BIN ]]; then
    adopted=$("$BIN" adopt logrotate --dry-run "${rotated[@]}" 2>/dev/null) || true
  fi
  if [[ $adopted == logs:* ]]; then
    printf '\n# From logrotate. Until you hand the files over, both rotate them (caretaker status shows the\n# conflict): caretaker adopt logrotate %s\n%s\n' "${rotated[*]}" "$adopted"
  elif ((nginx)); then
    cat <<'EOF'

logs:
  - name: nginx
    paths: [/var/log/nginx/*.log]
    rotate: { every: daily, maxSize: 100MiB }
    keep: 30
    compress: true
    delayCompress: true
    reopen: { command: "nginx -s reopen" }
EOF
  fi
  # certbot's lineages as `caretaker adopt certbot` maps them (it changes nothing without --write), commented
  # out: taking them over must also import certbot's account and stop certbot renewing them, which --write does.
  local lineages=""
  if [[ -d $CERT_DIR/renewal && -x $BIN ]]; then
    lineages=$("$BIN" adopt certbot --dir "$CERT_DIR" 2>/dev/null) || true
  fi
  if [[ $lineages == certificates:* ]]; then
    printf '\n# certbot lineages in %s, to take over with their ACME account (certbot then leaves them alone):\n#   caretaker adopt certbot --dir %s --write\n' "$CERT_DIR" "$CERT_DIR"
    sed 's/^/# /' <<<"$lineages"
  fi
}

# ------------------------------------------------------------------------------------ install

file_mode() {
  case $1 in
    install.sh | bin/node) echo 0755 ;;
    *) echo 0644 ;;
  esac
}

# Returns 0 when anything of the program changed (the running daemon must restart).
install_program() {
  local node=$1 file unchanged=1 files
  mapfile -t files < <(program_files)
  for file in "${files[@]}"; do
    install_file "$SRC/$file" "$PREFIX/$file" "$(file_mode "$file")" && unchanged=0
  done
  # A runtime an earlier self-contained release left, when this one uses the system's.
  if [[ ! -f $SRC/bin/node && -e $PREFIX/bin/node ]]; then
    change rm -f "$PREFIX/bin/node"
    unchanged=0
  fi
  # Chunks of the previous version that this one no longer has.
  if [[ -d $PREFIX/dist/chunks ]]; then
    while IFS= read -r file; do
      printf '%s\n' "${files[@]}" | grep -qxF "$file" || { change rm -f "$PREFIX/$file"; unchanged=0; }
    done < <(cd "$PREFIX" && find dist/chunks -type f | LC_ALL=C sort)
  fi
  local wrapper
  wrapper=$(mktemp)
  printf '#!/bin/sh\n# installed by caretaker install.sh\nexec %s %s/dist/caretaker.mjs "$@"\n' "$node" "$PREFIX" >"$wrapper"
  install_file "$wrapper" "$BIN" 0755 && unchanged=0
  rm -f "$wrapper"
  return $unchanged
}

install_config() {
  ensure_dir "$CONF_DIR" 0750 "root:$SERVICE_USER"
  local detected=""
  if ((detect)); then
    detected=$(mktemp)
    detected_config >"$detected"
    if ((!dry_run)) && ! "$BIN" check-config --config "$detected" >/dev/null; then
      "$BIN" check-config --config "$detected" >&2 || true
      rm -f "$detected"
      die "the detected config does not validate (a bug: please report it with the lines above)"
    fi
  fi
  if [[ ! -e $CONFIG ]]; then
    change install -m 0640 -g "$SERVICE_USER" "${detected:-$SRC/examples/caretaker.yaml}" "$CONFIG"
  else
    # Its content is the user's; only the group changes, for an install that predates the service user.
    ensure_owner "$CONFIG" "$(stat -c %U "$CONFIG"):$SERVICE_USER"
    if [[ -n $detected ]] && ! cmp -s "$detected" "$CONFIG.detected"; then
      say "$CONFIG exists and is kept; the detected config goes beside it for you to compare:"
      change install -m 0640 -g "$SERVICE_USER" "$detected" "$CONFIG.detected"
    fi
  fi
  [[ -z $detected ]] || rm -f "$detected"
}

install_dirs() {
  ensure_dir "$STATE_DIR" 0700 "$SERVICE_USER:$SERVICE_USER" -R
  ensure_dir "$BACKUP_DIR" 0700 "$SERVICE_USER:$SERVICE_USER" -R
  # ProtectSystem=strict can only open up paths that exist; certbot creates it 0755 too.
  ensure_dir "$CERT_DIR" 0755
}

# ------------------------------------------------------------------------------------ unit control

# `nginx` -> `nginx.service`, as systemctl reads it.
unit_name() {
  if [[ $1 =~ \.(service|socket|target|timer|path|mount|slice|scope)$ ]]; then printf '%s\n' "$1"; else printf '%s.service\n' "$1"; fi
}

# Units named by `systemctl reload|restart... UNIT` in the config (deploy and reopen commands).
config_units() {
  [[ -r $CONFIG ]] || return 0
  # Comments are not commands (the example's header says `systemctl reload caretaker`); nor is the daemon's own unit.
  sed -e 's/^[[:space:]]*#.*//' "$CONFIG" \
    | grep -oE 'systemctl +(--[a-z-]+ +)*(reload|restart|try-restart|reload-or-restart|try-reload-or-restart)( +[A-Za-z0-9@._:-]+)+' \
    | awk '{ for (i = 3; i <= NF; i++) if ($i !~ /^-/) print $i }' \
    | while read -r unit; do [[ $(unit_name "$unit") == "$UNIT_NAME" ]] || printf '%s\n' "$unit"; done || true
}

# What was allowed before (kept across upgrades), what --allow-unit adds, what the config names.
wanted_units() {
  local unit
  {
    if [[ -r $ALLOWED_UNITS ]]; then grep -v '^#' "$ALLOWED_UNITS" || true; fi
    for unit in "${allow_units[@]}"; do printf '%s\n' "$unit"; done
    config_units
  } | while read -r unit; do if [[ -n $unit ]]; then unit_name "$unit"; fi; done | LC_ALL=C sort -u
}

polkit_rule() {
  cat <<RULE
// Written by caretaker's install.sh (--allow-unit, or systemctl commands in $CONFIG); --uninstall removes it.
// Lets the $SERVICE_USER service user reload or restart these units, and nothing else.
polkit.addRule(function (action, subject) {
  if (action.id !== "org.freedesktop.systemd1.manage-units" || subject.user !== "$SERVICE_USER") return polkit.Result.NOT_HANDLED;
  var units = [$1];
  var verbs = ["reload", "restart", "try-restart", "reload-or-restart", "reload-or-try-restart"];
  if (units.indexOf(action.lookup("unit")) >= 0 && verbs.indexOf(action.lookup("verb")) >= 0) return polkit.Result.YES;
  return polkit.Result.NOT_HANDLED;
});
RULE
}

# The list the daemon checks commands against at config load, and the polkit rule that makes them work.
install_unit_control() {
  local units=() unit tmp quoted
  mapfile -t units < <(wanted_units)
  for unit in "${units[@]}"; do
    [[ $unit =~ ^[A-Za-z0-9@._:-]+$ ]] || die "--allow-unit: '$unit' is not a unit name"
    [[ $unit != "$UNIT_NAME" ]] || die "--allow-unit: the daemon reloads itself with \`caretaker reload\`, not through systemctl"
  done
  tmp=$(mktemp)
  { echo "# Units caretaker may reload/restart (written by install.sh --allow-unit; read at config load)"; printf '%s\n' "${units[@]}"; } | grep -v '^$' >"$tmp"
  install_file "$tmp" "$ALLOWED_UNITS" 0640 || true
  # The daemon reads it at config load, as the service user.
  [[ ! -e $ALLOWED_UNITS ]] || ensure_owner "$ALLOWED_UNITS" "root:$SERVICE_USER"
  rm -f "$tmp"
  if ((${#units[@]} == 0)); then
    if [[ -e $POLKIT_RULE ]]; then change rm -f "$POLKIT_RULE"; fi
    return 0
  fi
  if [[ ! -d /usr/share/polkit-1 ]]; then
    warn "polkit is not installed, so systemd refuses \`systemctl reload\` of ${units[*]} by the $SERVICE_USER user: apt-get install polkitd and run this again, or use the server's own control (e.g. nginx -s reload)"
    return 0
  fi
  quoted=$(printf '"%s", ' "${units[@]}")
  tmp=$(mktemp)
  polkit_rule "${quoted%, }" >"$tmp"
  install_file "$tmp" "$POLKIT_RULE" 0644 || true
  rm -f "$tmp"
}

install_unit() {
  install_file "$SRC/systemd/$UNIT_NAME" "$UNIT" 0644 || return 1
  change systemctl daemon-reload
}

start_service() {
  local restart=$1
  if [[ $(systemctl is-enabled "$UNIT_NAME" 2>/dev/null) != enabled ]]; then
    change systemctl enable --quiet "$UNIT_NAME"
  fi
  # Type=notify: start/restart return once the daemon sent READY=1, or fail.
  if ! systemctl is-active --quiet "$UNIT_NAME"; then
    systemctl reset-failed "$UNIT_NAME" 2>/dev/null || true
    change systemctl start "$UNIT_NAME"
  elif ((restart)); then
    change systemctl restart "$UNIT_NAME"
  fi
  ((dry_run)) && return 0
  if ! systemctl is-active --quiet "$UNIT_NAME"; then
    systemctl status --no-pager --lines=20 "$UNIT_NAME" >&2 || true
    die "$UNIT_NAME did not become ready; see journalctl -u caretaker"
  fi
}

print_summary() {
  local version
  version=$("$BIN" version 2>/dev/null || echo "caretaker (not installed)")
  cat <<EOF

$version is running as $UNIT_NAME.
  program      $PREFIX (CLI: $BIN)
  config       $CONFIG
  unit         $UNIT (local changes: systemctl edit caretaker)
  state        $STATE_DIR
  backups      $BACKUP_DIR
  certificates $CERT_DIR
  admin API    http://127.0.0.1:9470 (metrics: http://127.0.0.1:9471/metrics)
  logs         journalctl -u caretaker

Next:
  sudoedit $CONFIG && sudo caretaker check-config
  sudo systemctl reload caretaker
  sudo caretaker status
  sudo caretaker doctor        # the checks below, again: sandbox paths, web server, DNS, tools, space
EOF
  # The setup as the service runs it; a failure is shown with its fix but does not undo the install.
  printf '\ncaretaker doctor:\n'
  "$BIN" doctor --config "$CONFIG" 2>&1 | sed 's/^/  /' || true
}

cmd_install() {
  require_root
  require_systemd
  require_built_source
  local node restart=0
  node=$(node_path)
  say "installing caretaker from $SRC"
  say "node: $(describe_node "$node")"
  # Optional: only backups.remote needs it, and check-config refuses such a config without it.
  command -v restic >/dev/null || say "restic: not installed; off-site copies (backups.remote) need it: apt-get install restic"
  install_program "$node" && restart=1
  ensure_user
  install_config
  install_dirs
  install_unit_control
  install_unit && restart=1
  start_service "$restart"
  if ((changes == 0)); then
    say "already installed and up to date: nothing changed"
  elif ((dry_run)); then
    say "dry run: $changes change(s) listed, none made"
    return 0
  fi
  print_summary
}

# ------------------------------------------------------------------------------------ uninstall

# --purge deletes every backup: it asks first, and without a terminal to ask on it needs --yes.
confirm_purge() {
  ((purge && !dry_run && !yes)) || return 0
  local path answer doomed=()
  for path in "$CONF_DIR" "$STATE_DIR" "$BACKUP_DIR"; do
    [[ -e $path ]] && doomed+=("$path")
  done
  ((${#doomed[@]})) || return 0
  [[ -t 0 ]] || die "--purge deletes ${doomed[*]} (the config, the state and every backup); nothing changed. Run it on a terminal to confirm, or add --yes"
  read -r -p "--purge deletes ${doomed[*]} (the config, the state and every backup). Type yes to go on: " answer || answer=
  [[ $answer == yes ]] || die "not confirmed: nothing changed"
}

cmd_uninstall() {
  require_root
  confirm_purge
  if [[ -f $UNIT ]]; then
    if systemctl is-active --quiet "$UNIT_NAME" || systemctl is-enabled --quiet "$UNIT_NAME" 2>/dev/null; then
      change systemctl disable --now --quiet "$UNIT_NAME"
    fi
    change rm -f "$UNIT"
    change systemctl daemon-reload
    systemctl reset-failed "$UNIT_NAME" 2>/dev/null || true
  fi
  [[ -e $PREFIX ]] && change rm -rf "$PREFIX"
  [[ -e $POLKIT_RULE ]] && change rm -f "$POLKIT_RULE"
  [[ -e $BIN ]] && change rm -f "$BIN"
  if ((purge)); then
    local path
    for path in "$CONF_DIR" "$STATE_DIR" "$BACKUP_DIR" "$UNIT.d"; do
      [[ -e $path ]] && change rm -rf "$path"
    done
    say "purged config, state and backups; kept $CERT_DIR (certbot and web servers may share it) and the $SERVICE_USER user (files there may still be its)"
  else
    say "kept: $CONF_DIR, $STATE_DIR, $BACKUP_DIR, $CERT_DIR (--purge removes all but $CERT_DIR)"
  fi
  ((changes)) || say "caretaker is not installed: nothing changed"
}

# ------------------------------------------------------------------------------------ package

# The node binary a self-contained release carries: it must need nothing but the C and C++ runtime
# every Debian/Ubuntu has (nodejs.org and NodeSource builds; not Debian's, which needs libnode).
package_node() {
  local node=${node_for_package:-$(command -v node || true)}
  [[ -n $node ]] || die "--with-node: no node on PATH; give one with --node PATH"
  node=$(readlink -f "$node")
  node_supported "$node" || die "--with-node: $node is $("$node" --version), older than $NODE_MIN"
  local foreign
  foreign=$(ldd "$node" 2>/dev/null | awk '{print $1}' | grep -vE '^(linux-vdso\.|/lib64/ld-linux|/lib/ld-linux|ld-linux|(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s)\.)' || true)
  [[ -z $foreign ]] || die "--with-node: $node needs libraries a server may lack ($(echo $foreign)); use an official build from nodejs.org or NodeSource (--node PATH)"
  printf '%s\n' "$node"
}

cmd_package() {
  [[ -f $SRC/package.json && -f $SRC/scripts/build.mjs ]] || die "--package runs in a checkout (package.json, scripts/build.mjs)"
  command -v npm >/dev/null || die "--package needs npm (it runs npm run build)"
  local version name stage node=""
  version=$(cd "$SRC" && node -p 'require("./package.json").version')
  name=caretaker-$version
  if ((with_node)); then
    node=$(package_node)
    name=$name-node$("$node" -p 'process.versions.node.split(".")[0]')-linux-$("$node" -p process.arch)
  fi
  (cd "$SRC" && npm run --silent build)
  require_built_source
  stage=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: $stage is local
  trap "rm -rf '$stage'" EXIT
  local file files
  mapfile -t files < <(program_files)
  for file in install.sh systemd/$UNIT_NAME package.json "${files[@]}"; do
    [[ $file == bin/node ]] && continue
    install -D -m "$(file_mode "$file")" "$SRC/$file" "$stage/$name/$file"
  done
  [[ -z $node ]] || install -D -m 0755 "$node" "$stage/$name/bin/node"
  mkdir -p "$out_dir"
  local tarball
  tarball=$(cd "$out_dir" && pwd)/$name.tar.gz
  # Reproducible: same sources, same bytes.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@"${SOURCE_DATE_EPOCH:-0}" \
    -C "$stage" -cf - "$name" | gzip -n >"$tarball"
  say "$tarball"
}

main() {
  parse_args "$@"
  case $action in
    install) cmd_install ;;
    uninstall) cmd_uninstall ;;
    package) cmd_package ;;
  esac
}

main "$@"
