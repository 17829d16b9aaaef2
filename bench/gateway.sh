#!/usr/bin/env bash
# MCP gateway overhead benchmark (issue 13): a trivial tool called directly at an upstream and
# through `gatehouse gateway`, alternately, in the same run (bench/gateway.mjs). NOT part of the
# test suite. Run from the repository root:
#
#   bench/gateway.sh
#
# Env knobs: DURATION (10 s per phase), CONNS (64), ROUNDS (3), UPSTREAMS (sdk,minimal), PG_URL (admin URL of the local
# PostgreSQL; default postgres://postgres@127.0.0.1:5432/postgres; a fresh database is made and
# dropped), CARGO_TARGET_DIR (/root/.cache/gatehouse-target), BIN (measure this binary instead of
# building the checkout's release binary), REPORT (0: keep docs/benchmarks.md as it is), PIN (1: the
# SDK upstream alone on CPU 1, the load generator, the gateway and PostgreSQL on CPU 0; needs taskset
# and the right to change PostgreSQL's processes' affinity, which it restores at the end).
# Uses `oha` when installed (cargo install oha), else `wrk`; needs `npm ci --prefix tests/interop`. Only loopback addresses
# are loaded; every phase is bounded in time. Results go to bench/results/gateway-<timestamp>/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/gatehouse-target}
if [[ -z ${BIN:-} ]]; then
  cargo build --release -p gatehouse >&2
  BIN=$CARGO_TARGET_DIR/release/gatehouse
fi
# The load generator: oha (cargo install oha); without it, wrk (installed from Debian if missing).
command -v oha >/dev/null || [[ -x $HOME/.cargo/bin/oha ]] || command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
[[ -d tests/interop/node_modules ]] || npm ci --prefix tests/interop >&2
GATEHOUSE_BIN=$BIN exec node bench/gateway.mjs
