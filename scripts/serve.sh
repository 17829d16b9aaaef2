#!/usr/bin/env bash
# Starts Gatehouse on the embedded default: SQLite in ./data, http://127.0.0.1:8080.
# Installs what the build needs first (Debian packages for the SAML crypto libraries), then
# builds and runs `gatehouse serve`; extra arguments are passed on (e.g. --listen, --issuer).
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v cc >/dev/null || missing+=(build-essential)
command -v pkg-config >/dev/null || missing+=(pkg-config)
for pkg in libxmlsec1-dev libxml2-dev libclang-dev libssl-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}"
fi
command -v cargo >/dev/null || { echo "cargo (Rust toolchain) is required: https://rustup.rs" >&2; exit 1; }
exec cargo run --release -p gatehouse -- serve "$@"
