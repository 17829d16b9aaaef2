#!/usr/bin/env bash
# Thin handlers (STYLE §2, issue 12 §1), checked before the build so it fails fast:
#  - HTTP handlers (issuer, admin-api, scim/http) over 40 lines or 3 awaits must be in
#    scripts/handler-size-baseline.txt; a new one fails;
#  - `.begin()` and `audit::record(` in the HTTP crates must be in
#    scripts/edge-effects-baseline.txt; a new one fails.
# The heuristic (what counts as a handler, how lines and awaits are counted) is described in
# scripts/check_handlers.py. `scripts/check-handlers.sh --write-baseline` regenerates both
# baselines (only to shrink them).
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/check_handlers.py "$@"
