#!/usr/bin/env bash
# Installs the system binaries the tests start for real (Debian bookworm). A no-op when all are present.
# Services the packages may start system-wide are left alone; the harness runs its own instances.
set -euo pipefail

packages=(redis-server postgresql pebble nginx-light logrotate prometheus prometheus-node-exporter wrk openssl systemd-container debootstrap python3-aiosmtpd certbot restic openssh-server openssh-client rclone chromium)
# binary:package pairs; PostgreSQL's binaries live outside PATH, so postgres is checked separately.
binaries=(redis-server:redis-server redis-cli:redis-tools pebble:pebble pebble-challtestsrv:pebble
  nginx:nginx-light logrotate:logrotate promtool:prometheus prometheus-node-exporter:prometheus-node-exporter wrk:wrk openssl:openssl setpriv:util-linux
  systemd-nspawn:systemd-container debootstrap:debootstrap certbot:certbot
  restic:restic sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client rclone:rclone chromium:chromium)

missing=()
for pair in "${binaries[@]}"; do
  binary=${pair%%:*}
  if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$binary" >/dev/null 2>&1; then
    missing+=("$binary (${pair#*:})")
  fi
done
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  missing+=("postgres (postgresql)")
fi
# The SMTP server of the email tests is a Python module, run by Debian's python3 (test/harness/smtp.ts).
if ! /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  missing+=("aiosmtpd (python3-aiosmtpd)")
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "test dependencies missing: ${missing[*]}" >&2
if ((EUID != 0)); then
  echo "run as root: apt-get install -y --no-install-recommends ${packages[*]}" >&2
  exit 1
fi

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
