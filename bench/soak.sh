#!/usr/bin/env bash
# Soak (issue 15 §3): one Gatehouse node on PostgreSQL under a steady mixed load at half the
# measured maximum for 10 minutes, with its RSS sampled every few seconds; the report says
# whether memory stays flat. NOT part of the test suite (run by hand, from the repository root):
#
#   bench/soak.sh
#
# The load is open-loop (bench/soak-load.mjs): introspection, refresh with rotation and
# client_credentials, each at FRACTION/3 of its measured maximum, so that together they use
# FRACTION (default 0.5) of what the node sustained in docs/benchmarks.md. The maxima default to
# the figures there (introspection 8,529 req/s, refresh 1,022 req/s, client_credentials 502
# req/s); set them for another machine.
#
# Env: DURATION (600 s), FRACTION (0.5), INTROSPECT_MAX, REFRESH_MAX, CC_MAX (req/s), SAMPLE_SECS
# (5), PG_URL (admin URL; postgres://postgres@127.0.0.1:5432/test), SOAK_DB (gh_soak), BIN (a
# gatehouse binary; default: the release build, built if missing), CARGO_TARGET_DIR, GH_PORT
# (18490), REPORT (1: write the result into docs/benchmarks.md between the soak markers, after
# the marker that bench/run.sh keeps).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${DURATION:-600}
FRACTION=${FRACTION:-0.5}
INTROSPECT_MAX=${INTROSPECT_MAX:-8529}
REFRESH_MAX=${REFRESH_MAX:-1022}
CC_MAX=${CC_MAX:-502}
SAMPLE_SECS=${SAMPLE_SECS:-5}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
SOAK_DB=${SOAK_DB:-gh_soak}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/gatehouse-target}
BIN=${BIN:-$CARGO_TARGET_DIR/release/gatehouse}
GH_PORT=${GH_PORT:-18490}
REPORT=${REPORT:-1}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/bench/results/soak-$STAMP
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/gatehouse-soak.XXXXXX)
log() { echo "[soak $(date +%H:%M:%S)] $*" >&2; }

GH_PID='' SAMPLER_PID='' DB_CREATED=''
cleanup() {
  local rc=$?
  set +e
  [[ -n $SAMPLER_PID ]] && kill "$SAMPLER_PID" 2>/dev/null
  if [[ -n $GH_PID ]] && kill -0 "$GH_PID" 2>/dev/null; then
    kill -TERM "$GH_PID"
    for _ in $(seq 50); do kill -0 "$GH_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$GH_PID" 2>/dev/null
  fi
  wait 2>/dev/null
  [[ -n $DB_CREATED ]] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $SOAK_DB WITH (FORCE)" >/dev/null
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ! -x $BIN ]]; then
  log "building release binary"
  cargo build --release -p gatehouse 2>&1 | tail -n 3 >&2
fi
[[ -d tests/interop/node_modules/oidc-provider ]] || npm ci --prefix tests/interop >&2
rate() { awk -v m="$1" -v f="$FRACTION" 'BEGIN { printf "%.0f", m * f / 3 }'; }
I_RPS=$(rate "$INTROSPECT_MAX"); R_RPS=$(rate "$REFRESH_MAX"); C_RPS=$(rate "$CC_MAX")
log "load: introspection $I_RPS req/s, refresh $R_RPS req/s, client_credentials $C_RPS req/s for $DURATION s"

psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $SOAK_DB WITH (FORCE)" >/dev/null
psql "$PG_URL" -qc "CREATE DATABASE $SOAK_DB" >/dev/null
DB_CREATED=1
node --input-type=module -e "import('$ROOT/tests/interop/pki.mjs').then((m) => m.makePki('$WORK'))"
export DATABASE_URL="${PG_URL%/*}/$SOAK_DB"
export GATEHOUSE_MASTER_KEY=$(openssl rand -hex 32)
export GATEHOUSE_ISSUER="http://127.0.0.1:$GH_PORT"
export GATEHOUSE_FETCH_CA_FILE="$WORK/ca.pem"
export GATEHOUSE_FETCH_ALLOW_CIDRS=127.0.0.2/32
export GATEHOUSE_RATE_GRANTS_PER_CLIENT_PER_MINUTE=1000000000
export GATEHOUSE_RATE_INTROSPECT_PER_RS_PER_MINUTE=1000000000
export RUST_LOG=warn

"$BIN" migrate >"$OUT/migrate.log" 2>&1
"$BIN" serve --listen "127.0.0.1:$GH_PORT" >"$OUT/gatehouse.log" 2>&1 &
GH_PID=$!
for i in $(seq 240); do
  curl -fsS -o /dev/null "$GATEHOUSE_ISSUER/readyz" 2>/dev/null && break
  kill -0 "$GH_PID" 2>/dev/null || { cat "$OUT/gatehouse.log" >&2; exit 1; }
  (( i == 240 )) && { log "gatehouse not ready after 60 s"; exit 1; }
  sleep 0.25
done

log "setup: 64 refresh chains from browser sign-ins, a service account"
GATEHOUSE_BIN=$BIN GATEHOUSE_BASE=$GATEHOUSE_ISSUER PKI_DIR=$WORK LOG_DIR=$OUT TOKENS_OUT=$OUT/tokens.json \
  CHAINS=64 CODES=64 node bench/setup.mjs 2>"$OUT/setup.log"

# RSS (kB) every SAMPLE_SECS seconds, from the load's start to its end.
sampler() {
  local t0=$SECONDS
  while kill -0 "$GH_PID" 2>/dev/null; do
    # seconds, RSS, and its anonymous and file-mapped parts (kB): which one grows
    echo "$((SECONDS - t0)) $(awk '/^VmRSS/{r=$2} /^RssAnon/{a=$2} /^RssFile/{f=$2} END{print r, a, f}' "/proc/$GH_PID/status")" >>"$OUT/rss.txt"
    sleep "$SAMPLE_SECS"
  done
}
sampler & SAMPLER_PID=$!
node bench/soak-load.mjs "$OUT/tokens.json" "$DURATION" "$I_RPS" "$R_RPS" "$C_RPS" | tee "$OUT/load.txt" >&2
sleep "$SAMPLE_SECS"
kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=''
grep -cE '"level":"(ERROR|WARN)"' "$OUT/gatehouse.log" >"$OUT/log-warnings.txt" || true

node bench/soak-report.mjs "$OUT" "$BIN" "$FRACTION" >"$OUT/report.md"
cat "$OUT/report.md" >&2
if [[ $REPORT != 0 ]]; then
  node bench/soak-report.mjs --write "$OUT/report.md" docs/benchmarks.md
  log "report written into docs/benchmarks.md (between the soak markers)"
fi
log "results: $OUT"
