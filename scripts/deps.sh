#!/usr/bin/env bash
# Install the system packages softswitch needs, and only those missing, so
# running it again costs nothing. `apt-get update` runs once, only when
# something must be installed.
#   scripts/deps.sh run    packages to build and run softswitch
#   scripts/deps.sh test   the above plus the test tools (SIPp, curl, baresip,
#                          openssl and python3 for the HTTPS back end,
#                          sipvicious's svwar and svcrack for tests/sip_auth.rs,
#                          Chromium for the console's browser tests, and
#                          tests/web's npm packages: playwright-core,
#                          axe-core, and oidc-provider as the SSO test IdP)
set -euo pipefail

what="${1:-run}"
# Building: a C/C++ toolchain, pkg-config, and what webrtc-audio-processing
# 0.5 (feature `bundled`) needs to build its bundled C++ library.
pkgs=(build-essential pkg-config autoconf automake libtool libclang-dev clang)
case "$what" in
  run) ;;
  test)
    pkgs+=(sip-tester curl baresip-core openssl python3 sipvicious chromium)
    # Node.js: the machine's own when it has one, else Debian's.
    command -v node >/dev/null || pkgs+=(nodejs npm)
    ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "cargo not found: install Rust stable (rustup) first" >&2; exit 1; }

if [ "$what" = test ]; then
  # The browser tests' npm packages, from the lock file, when missing or
  # older than it.
  web="$(dirname "$0")/../tests/web"
  if [ ! -d "$web/node_modules" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
    echo "installing tests/web npm packages" >&2
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
