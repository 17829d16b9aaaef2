#!/usr/bin/env bash
# Audit chain benchmarks (issue 15 §1): append with chaining, the sealer, and verifying a chain
# of AUDIT_BENCH_RECORDS (default 1,000,000) records, on PostgreSQL; plus criterion's
# measurement of one record's canonical encoding and hash. NOT part of the test suite (it takes
# a few minutes). Run from the repository root:
#
#   bench/audit.sh
#
# Env knobs: PG_URL (admin URL of the local PostgreSQL; default
# postgres://postgres@127.0.0.1:5432/test; each phase gets a fresh schema), AUDIT_BENCH_RECORDS,
# AUDIT_BENCH_SECS (10 s per append phase), REPORT (0: keep docs/benchmarks.md as it is).
# The table it prints goes into docs/benchmarks.md between the audit-bench markers.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/gatehouse-target}
export GATEHOUSE_TEST_DATABASE_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
out=$(mktemp)
cargo bench -p authz-core --features testkit --bench audit 2>&1 | tee "$out"
[[ ${REPORT:-1} == 0 ]] && exit 0
python3 - "$out" <<'PY'
import re, subprocess, sys, datetime
log = open(sys.argv[1]).read()
table = log[log.index('## audit store benchmarks'):].strip().splitlines()
table = [l for l in table if l.startswith('|')]
m = re.search(r'audit/canonical\+chain_hash \(one record\)\s+time:\s+\[([^\]]+)\]', log)
commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
when = datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')
section = f"""<!-- audit-bench:start -->
## Audit log: append with chaining, sealer, verify (issue 15 §1)

Run by `bench/audit.sh` ({when}, commit {commit}; release build; PostgreSQL on the same host).
criterion, one record's canonical encoding and chain hash: [{m.group(1) if m else 'n/a'}] (low, estimate, high).

{chr(10).join(table)}
<!-- audit-bench:end -->
"""
path = 'docs/benchmarks.md'
doc = open(path).read()
if '<!-- audit-bench:start -->' in doc:
    doc = re.sub(r'<!-- audit-bench:start -->[\s\S]*?<!-- audit-bench:end -->\n?', section, doc)
else:
    doc = doc.rstrip('\n') + '\n\n' + section
open(path, 'w').write(doc)
print('docs/benchmarks.md: audit-bench section written')
PY
