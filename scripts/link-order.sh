#!/usr/bin/env bash
# Regenerates crates/gatehouse/link-order.txt: the functions a running node executes, which the
# release link puts together at the start of the binary's code (ADR 0031, crates/gatehouse/build.rs).
#
#   scripts/link-order.sh
#
# Not part of the test suite; run it after large changes (a stale list only helps less: names
# the binary no longer has are skipped). It builds the release binary, starts `serve` under
# valgrind's callgrind (which records every function that runs, however briefly) once on
# PostgreSQL and once on SQLite, drives the benchmark's flows at a small scale (the admin CLI,
# dynamic registration, browser sign-ins through the development IdP, code exchange,
# introspection, refresh, client_credentials, /metrics), stops the node, and writes the names of
# the binary's functions that ran, in the order of their addresses in the profiled binary (so
# each crate's code stays together).
#
# Needs: valgrind, wrk, jq, node with tests/interop's packages (npm ci there), a PostgreSQL
# server (PG_URL, default postgres://postgres@127.0.0.1:5432/test). Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
DB=gh_link_order
PORT=18680
METRICS_PORT=18682
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/gatehouse-target}
for tool in valgrind wrk jq node psql; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
done
log() { echo "[link-order $(date +%H:%M:%S)] $*" >&2; }

log "building the release binary"
cargo build --release -p gatehouse 2>&1 | tail -n 1 >&2
BIN=$(mktemp /tmp/gatehouse-link-order.XXXXXX)
cp "$CARGO_TARGET_DIR/release/gatehouse" "$BIN"
chmod +x "$BIN"
WORK=$(mktemp -d /tmp/gatehouse-link-order.XXXXXX)
NODE_PID=''
cleanup() {
  set +e
  [[ -n $NODE_PID ]] && kill -KILL "$NODE_PID" 2>/dev/null
  psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$WORK" "$BIN"
}
trap cleanup EXIT
node --input-type=module -e "import('$ROOT/tests/interop/pki.mjs').then((m) => m.makePki('$WORK'))"

# One profiled run: start under callgrind, drive the flows, stop with SIGTERM (callgrind writes
# its file when the process exits).
profile() { # database_url label
  local url=$1 label=$2 out=$WORK/$2
  mkdir -p "$out"
  log "$label: starting the node under callgrind"
  DATABASE_URL=$url "$BIN" migrate >"$out/migrate.log" 2>&1
  DATABASE_URL=$url valgrind --tool=callgrind --demangle=no --dump-instr=no \
    --callgrind-out-file="$out/callgrind.out" \
    "$BIN" serve --listen "127.0.0.1:$PORT" --metrics-listen "127.0.0.1:$METRICS_PORT" >"$out/node.log" 2>&1 &
  NODE_PID=$!
  for i in $(seq 600); do
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null && break
    kill -0 "$NODE_PID" 2>/dev/null || { cat "$out/node.log" >&2; exit 1; }
    (( i == 600 )) && { log "not ready after 5 minutes"; exit 1; }
    sleep 0.5
  done
  log "$label: flows"
  DATABASE_URL=$url GATEHOUSE_BIN=$BIN GATEHOUSE_BASE="http://127.0.0.1:$PORT" PKI_DIR=$WORK LOG_DIR=$out \
    TOKENS_OUT=$out/tokens.json CHAINS=8 CODES=40 WARM=8 CODE_CONCURRENCY=4 CLIENTS=1 \
    node bench/setup.mjs 2>"$out/setup.log"
  local spec=$out/tokens.json
  jq -r '.chains[].access_token' "$spec" >"$out/tokens"
  TOKENS_FILE=$out/tokens \
  BASIC=$(jq -r '"\(.introspection_client_id):\(.introspection_client_secret)"' "$spec" | tr -d '\n' | base64 -w0) \
  INTROSPECT_PATH=$(jq -r '.introspect_url' "$spec" | sed -E 's#^https?://[^/]+##') \
    wrk -t1 -c4 -d10s --timeout 10s -s bench/introspect.lua "http://127.0.0.1:$PORT" >"$out/introspect.txt"
  BASIC=$(jq -r '.client_credentials | "\(.client_id):\(.client_secret)"' "$spec" | tr -d '\n' | base64 -w0) \
  BODY=$(jq -r '.client_credentials | "grant_type=client_credentials&resource=\(.resource | @uri)&scope=\(.scope | @uri)"' "$spec") \
  TOKEN_PATH=$(jq -r '.token_url' "$spec" | sed -E 's#^https?://[^/]+##') \
    wrk -t1 -c4 -d10s --timeout 10s -s bench/cc.lua "http://127.0.0.1:$PORT" >"$out/cc.txt"
  node bench/refresh-load.mjs "$spec" 10 gatehouse >"$out/refresh.txt"
  curl -fsS -o /dev/null "http://127.0.0.1:$METRICS_PORT/metrics"
  log "$label: stopping the node"
  kill -TERM "$NODE_PID"
  wait "$NODE_PID" || true
  NODE_PID=''
}

export GATEHOUSE_MASTER_KEY=$(openssl rand -hex 32)
export GATEHOUSE_ISSUER="http://127.0.0.1:$PORT"
export GATEHOUSE_FETCH_CA_FILE="$WORK/ca.pem"
export GATEHOUSE_FETCH_ALLOW_CIDRS=127.0.0.2/32
export RUST_LOG=warn
psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
psql "$PG_URL" -qc "CREATE DATABASE $DB" >/dev/null
profile "${PG_URL%/*}/$DB" postgres
profile "sqlite://$WORK/gatehouse.db?mode=rwc" sqlite

# The binary's functions (nm) that callgrind saw run, by address.
python3 - "$BIN" "$ROOT/crates/gatehouse/link-order.txt" "$WORK"/*/callgrind.out <<'EOF'
import re, subprocess, sys
binary, target, outs = sys.argv[1], sys.argv[2], sys.argv[3:]
ran = set()
for path in outs:
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"^c?fn=\(\d+\) (.+)$", line.rstrip("\n"))
            if m:
                ran.add(m.group(1))
symbols = {}
nm = subprocess.run(["nm", "--defined-only", "-S", binary], capture_output=True, text=True, check=True)
for line in nm.stdout.splitlines():
    parts = line.split()
    if len(parts) == 4 and parts[2] in "tTwW":
        symbols[parts[3]] = int(parts[0], 16)
hot = sorted((symbols[n], n) for n in ran if n in symbols)
with open(target, "w") as f:
    f.writelines(name + "\n" for _, name in hot)
print(f"{len(hot)} functions written to {target}", file=sys.stderr)
EOF
