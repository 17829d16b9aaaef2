#!/usr/bin/env bash
# Thin handlers (STYLE §2, issue 12 §1), checked before the build so it fails fast:
#  - no HTTP handler (issuer, admin-api, scim/http) over 40 lines or 3 awaits;
#  - no `.begin()` or `audit::record` outside authz-core and the application layer (crates/app):
#    not in the HTTP crates, the binary (CLI) or the protocol kernels.
# There is no exceptions list. The heuristic (what counts as a handler, how lines and awaits are
# counted) is described in scripts/check_handlers.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/check_handlers.py "$@"
