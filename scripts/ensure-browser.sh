#!/usr/bin/env bash
# Make sure Debian's chromium is at /usr/bin/chromium for the browser tests (tests/web). Playwright
# drives this binary; it never downloads a browser build of its own. Idempotent: one check and out
# when the browser is already there. Installing needs root (as on CI and the dev machines).
set -euo pipefail

CHROMIUM=/usr/bin/chromium
step() { echo "[browser] $*"; }
die() { echo "[browser] ERROR: $*" >&2; exit 1; }

if [[ -x "$CHROMIUM" ]]; then
  step "chromium present: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi

[[ "$(id -u)" == "0" ]] || die "$CHROMIUM is missing and installing it needs root: sudo $0"
command -v apt-get >/dev/null || die "$CHROMIUM is missing and there is no apt-get to install it"

step "chromium missing: apt-get update"
apt-get update -qq || die "apt-get update failed"
step "installing Debian's chromium package"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
  || die "apt-get install chromium failed"
[[ -x "$CHROMIUM" ]] || die "chromium was installed but $CHROMIUM is not there"
step "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
