#!/usr/bin/env bash
# Soak (issue 15 §3): one Gatehouse node on PostgreSQL under a steady mixed load at half the
# measured maximum for 10 minutes, with its RSS sampled every few seconds; the report says
# whether memory stays flat. The test command runs it (scripts/test.sh, step 5, with CHECK=1 on
# the debug build and a private PostgreSQL cluster); by hand, from the repository root:
#
#   bench/soak.sh
#
# The load is open-loop (bench/soak-load.mjs): introspection, refresh with rotation and
# client_credentials at once. Their rates come from the mixed maximum measured first in the same
# run (MAX_SECS of closed-loop load, MAX_WORKERS loops per operation, the same generator): each
# operation at FRACTION (default 0.5) of its rate there. Given INTROSPECT_MAX, REFRESH_MAX and
# CC_MAX (each operation's maximum alone, req/s, as bench/run.sh measures them), each operation
# runs at FRACTION/3 of its own instead.
#
# CHECK=1: exit 1 unless every operation held its rate (achieved ≥ 97 % of its target, at most
# 0.1 % of arrivals behind), no request failed, every refresh chain is alive, the node logged no
# WARN or ERROR line, and RSS stays flat (bench/soak-report.mjs: the second half's trend or the one after the first minute).
#
# Env: DURATION (600 s), FRACTION (0.5), MAX_SECS (20), MAX_WORKERS (8), INTROSPECT_MAX,
# REFRESH_MAX, CC_MAX, SAMPLE_SECS (2), PG (private: initdb a cluster of our own in a temporary
# folder, with PostgreSQL's default settings, autovacuum on; else the server at PG_URL), PG_URL
# (admin URL; postgres://postgres@127.0.0.1:5432/test), SOAK_DB (gh_soak), BIN (a gatehouse
# binary; default: the release build, built if missing), CARGO_TARGET_DIR, GH_PORT (18490),
# REPORT (1: write the result into docs/benchmarks.md between the soak markers, after the marker
# that bench/run.sh keeps), CHECK (0), OUT (results folder; bench/results/soak-<stamp>).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${DURATION:-600}
FRACTION=${FRACTION:-0.5}
MAX_SECS=${MAX_SECS:-20}
MAX_WORKERS=${MAX_WORKERS:-8}
SAMPLE_SECS=${SAMPLE_SECS:-2}
PG=${PG:-}
CHECK=${CHECK:-0}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
SOAK_DB=${SOAK_DB:-gh_soak}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/gatehouse-target}
BIN=${BIN:-$CARGO_TARGET_DIR/release/gatehouse}
GH_PORT=${GH_PORT:-18490}
REPORT=${REPORT:-1}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/bench/results/soak-$STAMP}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/gatehouse-soak.XXXXXX)
log() { echo "[soak $(date +%H:%M:%S)] $*" >&2; }

GH_PID='' SAMPLER_PID='' DB_CREATED='' PG_DATA=''
# The private cluster's commands run as `postgres` when this script runs as root (PostgreSQL
# refuses to run as root).
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
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
  [[ -n $DB_CREATED && -z $PG_DATA ]] && psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $SOAK_DB WITH (FORCE)" >/dev/null
  if [[ -n $PG_DATA ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA/data" -m fast -w stop >/dev/null 2>&1
    cp "$PG_DATA/server.log" "$OUT/postgres.log" 2>/dev/null
    rm -rf "$PG_DATA"
  fi
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
if [[ $PG == private ]]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  [[ -x $PG_BIN/initdb ]] || { log "initdb not found (Debian package postgresql)"; exit 1; }
  PG_DATA=$(mktemp -d /tmp/gatehouse-soak-pg.XXXXXX)
  [[ $(id -u) == 0 ]] && chown postgres: "$PG_DATA"
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg "$PG_BIN/initdb" -D "$PG_DATA/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
  # PostgreSQL's defaults (autovacuum on), but fsync off: the soak is about the node, not the disk.
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA/data" -l "$PG_DATA/server.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_DATA -c fsync=off -c max_connections=200" start >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  log "private PostgreSQL cluster on port $PG_PORT"
fi
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

if [[ -n ${INTROSPECT_MAX:-} && -n ${REFRESH_MAX:-} && -n ${CC_MAX:-} ]]; then
  rate() { awk -v m="$1" -v f="$FRACTION" 'BEGIN { printf "%.0f", m * f / 3 }'; }
  I_RPS=$(rate "$INTROSPECT_MAX"); R_RPS=$(rate "$REFRESH_MAX"); C_RPS=$(rate "$CC_MAX")
else
  log "the mixed maximum: $MAX_SECS s closed loop, $MAX_WORKERS loops per operation"
  node bench/soak-load.mjs "$OUT/tokens.json" "$MAX_SECS" --closed "$MAX_WORKERS" >"$OUT/maxima.txt"
  cat "$OUT/maxima.txt" >&2
  rate() { node -e "const r = JSON.parse(require('fs').readFileSync('$OUT/maxima.txt', 'utf8').match(/^RESULT (.*)$/m)[1]); console.log(Math.round((r['$1']?.rps ?? 0) * $FRACTION))"; }
  I_RPS=$(rate introspect); R_RPS=$(rate refresh); C_RPS=$(rate client_credentials)
fi
log "load: introspection $I_RPS req/s, refresh $R_RPS req/s, client_credentials $C_RPS req/s for $DURATION s"

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
if [[ $CHECK == 1 ]]; then
  node -e "const v = JSON.parse(require('fs').readFileSync('$OUT/verdict.json', 'utf8')); for (const m of v.failed) console.error('soak: ' + m); process.exit(v.failed.length ? 1 : 0)"
  log "every check held"
fi
