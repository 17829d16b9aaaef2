#!/usr/bin/env bash
# SCIM benchmark (DESIGN §10; issue "SCIM"): a release build on PostgreSQL, driven by
# bench/scim-load.mjs. NOT part of the test suite. Run from the repository root:
#
#   bench/scim.sh
#
# Measures: creating USERS (10,000) users with POST /Users at CONCURRENCY (32); one PATCH adding
# all of them to a group; BULK_REQUESTS (3) /Bulk requests of 1,000 creates; then, after growing
# the tenant to LOOKUP_POPULATION (100,000) users, LOOKUPS (5,000) `userName eq` queries. Writes bench/results/<stamp>/scim.json and
# the "SCIM" section of docs/benchmarks.md (between the scim markers), kept as
# bench/scim-results.md so that bench/report.mjs (the OAuth benchmark) re-appends it.
# Env: PG_URL (postgres://postgres@127.0.0.1:5432/test), BENCH_DB (gh_bench_scim), GH_PORT
# (18490), CARGO_TARGET_DIR (/root/.cache/gatehouse-target), REPORT (1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
BENCH_DB=${BENCH_DB:-gh_bench_scim}
GH_PORT=${GH_PORT:-18490}
REPORT=${REPORT:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/gatehouse-target}
BIN=$CARGO_TARGET_DIR/release/gatehouse
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/bench/results/$STAMP
mkdir -p "$OUT"
log() { echo "[scim-bench $(date +%H:%M:%S)] $*" >&2; }
GH_PID=''
cleanup() {
  set +e
  [[ -n $GH_PID ]] && kill "$GH_PID" 2>/dev/null && wait "$GH_PID" 2>/dev/null
  psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $BENCH_DB" >/dev/null 2>&1
}
trap cleanup EXIT

log "building release binary"
cargo build --release -p gatehouse 2>&1 | tail -n 2 >&2
psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $BENCH_DB" >/dev/null
psql "$PG_URL" -qc "CREATE DATABASE $BENCH_DB" >/dev/null
# Loopback: the connection to PostgreSQL skips TLS (PG_SSLMODE=prefer measures it with TLS).
export DATABASE_URL="${PG_URL%/*}/$BENCH_DB?sslmode=${PG_SSLMODE:-disable}"
export GATEHOUSE_MASTER_KEY=$(openssl rand -hex 32)
export GATEHOUSE_ISSUER="http://127.0.0.1:$GH_PORT"
export GATEHOUSE_SCIM_RATE_PER_MINUTE=1000000
"$BIN" migrate >/dev/null
"$BIN" tenant create --slug bench --name Bench --domain bench.test >/dev/null
TOKEN=$("$BIN" scim-token create --tenant bench --name bench 2>/dev/null | sed -n 's/^token: //p')
"$BIN" serve --listen "127.0.0.1:$GH_PORT" >"$OUT/gatehouse-scim.log" 2>&1 &
GH_PID=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "$GATEHOUSE_ISSUER/readyz" 2>/dev/null && break; sleep 0.1; done

USERS=${USERS:-10000}
CONCURRENCY=${CONCURRENCY:-32}
CREATE_RESULT=''
if command -v wrk >/dev/null; then
  # Creation is measured with wrk (C, light on CPU), which leaves the two cores to Gatehouse and
  # PostgreSQL: 2 threads, CONCURRENCY connections, CREATE_SECS seconds (enough for USERS).
  log "creating users with wrk for ${CREATE_SECS:-20} s"
  SCIM_PATH=/scim/v2/bench/Users TOKEN="$TOKEN" \
    wrk -t2 -c"$CONCURRENCY" -d"${CREATE_SECS:-20}s" --timeout 10s --latency -s bench/scim-create.lua "$GATEHOUSE_ISSUER" >"$OUT/scim-create.wrk.txt"
  CREATE_RESULT=$(sed -n 's/^RESULT //p' "$OUT/scim-create.wrk.txt" | tail -n 1)
fi
log "running the SCIM load (bounded by counts)"
BASE="$GATEHOUSE_ISSUER/scim/v2/bench" TOKEN="$TOKEN" USERS=$USERS CONCURRENCY=$CONCURRENCY CREATE_RESULT="$CREATE_RESULT" \
  node bench/scim-load.mjs >"$OUT/scim-load.txt"
sed -n 's/^RESULT //p' "$OUT/scim-load.txt" | tail -n 1 >"$OUT/scim.json"
# How the lookup runs: the plan of the statement the filter becomes.
TENANT=$(psql "${PG_URL%/*}/$BENCH_DB" -Atc "select id from tenants where slug = 'bench'")
psql "${PG_URL%/*}/$BENCH_DB" -Atc "EXPLAIN ANALYZE SELECT id FROM scim_users WHERE tenant_id = '$TENANT' AND user_name_lower = 'user50000@bench.test'" >"$OUT/scim-lookup-plan.txt"
MACHINE="$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), PostgreSQL $(psql "$PG_URL" -Atc 'show server_version') over loopback (sslmode=${PG_SSLMODE:-disable})"

if [[ $REPORT == 1 ]]; then
  STAMP=$STAMP MACHINE=$MACHINE node - "$OUT/scim.json" "$OUT/scim-lookup-plan.txt" <<'JS'
const fs = require('node:fs');
const [json, plan] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(json, 'utf8'));
const planText = fs.readFileSync(plan, 'utf8').trim();
const ok = (b) => (b ? 'met' : '**not met**');
const obs = fs.existsSync('bench/scim-observations.md') ? '\n' + fs.readFileSync('bench/scim-observations.md', 'utf8') : '';
const section = `<!-- scim:begin -->
## SCIM (issue "SCIM")

Run ${process.env.STAMP} by \`bench/scim.sh\` on ${process.env.MACHINE}; release build, one node,
${r.concurrency} requests in flight, the tenant's SCIM token (rate limit raised for the run). Every
request is a separate HTTP call with its own transaction, audit record and rate-limit count.

| Measurement | Result | Target | |
|---|---|---|---|
| Create users (POST /Users; load by ${r.create.generator}${r.create.requests ? `, ${r.create.requests.toLocaleString('en')} users in ${r.create.secs} s` : ''}) | ${r.create.per_sec} req/s (p50 ${r.create.p50_ms} ms, p99 ${r.create.p99_ms} ms, ${r.create.errors} errors) | ≥ 1,000 req/s | ${ok(r.create.per_sec >= 1000 && r.create.errors === 0)} |
| One PATCH adding ${r.patch_members.members} members to a group | ${r.patch_members.secs} s | < 1 s | ${ok(r.patch_members.secs < 1)} |
| \`userName eq\` lookup among ${r.lookup.population.toLocaleString('en')} users | ${r.lookup.per_sec} req/s (p50 ${r.lookup.p50_ms} ms, p99 ${r.lookup.p99_ms} ms, ${r.lookup.errors} errors) | indexed, no scan | see plan |
| Bulk create (${r.bulk.users} users in requests of 1,000 operations, run in order) | ${r.bulk.per_sec} users/s | — | |

The lookup's statement plan (PostgreSQL \`EXPLAIN ANALYZE\`):

\`\`\`
${planText}
\`\`\`
${obs}<!-- scim:end -->
`;
fs.writeFileSync('bench/scim-results.md', section);
const doc = fs.readFileSync('docs/benchmarks.md', 'utf8');
const re = /<!-- scim:begin -->[\s\S]*<!-- scim:end -->\n?/;
fs.writeFileSync('docs/benchmarks.md', re.test(doc) ? doc.replace(re, section) : doc.trimEnd() + '\n\n' + section);
JS
  log "docs/benchmarks.md updated"
fi
cat "$OUT/scim.json"
