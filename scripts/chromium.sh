#!/usr/bin/env bash
# Make sure Chromium is installed at /usr/bin/chromium: the dashboard is tested in a real browser.
# Installs Debian's package with apt-get (as root, or with sudo) when it is missing; otherwise
# explains what is missing and exits 1.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
[[ -x $CHROMIUM ]] && exit 0

have() { command -v "$1" >/dev/null 2>&1; }
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if have sudo && sudo -n true 2>/dev/null; then
    sudo_cmd=(sudo -n)
  else
    echo "Chromium is missing at $CHROMIUM and installing it needs root (or sudo without a password)." >&2
    exit 1
  fi
fi
if ! have apt-get; then
  echo "Chromium is missing at $CHROMIUM; install it (Debian's package 'chromium') and run again." >&2
  exit 1
fi
echo "Chromium: installing Debian's package with apt-get (the dashboard tests run in a real browser)" >&2
log=$(mktemp "${TMPDIR:-/tmp}/chromium-sh.XXXXXX")
trap 'rm -f "$log"' EXIT
if ! { "${sudo_cmd[@]}" apt-get update && "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "apt-get could not install chromium (above: the end of its output)." >&2
  exit 1
fi
[[ -x $CHROMIUM ]] || { echo "apt-get installed chromium, but $CHROMIUM is still missing." >&2; exit 1; }
