#!/usr/bin/env python3
"""Read `cargo test --no-run --message-format=json` on stdin; print one line per test
executable of the named packages: package directory, executable, label and a test-name filter
(tab-separated; the filter may be empty), unit tests first, then by file. scripts/test.sh runs
them for the PostgreSQL pass without recompiling.

Each argument is PACKAGE (every test executable of it) or PACKAGE:TARGET:FILTER (only the
test target TARGET, run with the libtest filter FILTER): `gatehouse:it:http::` is the
gatehouse crate's integration binary, its HTTP tests only."""
import json
import os
import sys

wanted = {}
for arg in sys.argv[1:]:
    package, _, rest = arg.partition(":")
    target, _, filt = rest.partition(":")
    wanted.setdefault(package, []).append((target or None, filt))
seen = set()
rows = []
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if msg.get("reason") != "compiler-artifact" or not msg.get("executable"):
        continue
    if not msg.get("profile", {}).get("test"):
        continue  # the gatehouse binary itself, not a test harness
    target = msg["target"]
    manifest = msg["manifest_path"]
    package = os.path.basename(os.path.dirname(manifest))
    # The package name is in package_id ("path+file:///.../crates/issuer#0.1.0" or
    # "...#name@0.1.0"); the directory name matches it for every workspace crate.
    pid = msg.get("package_id", "")
    frag = pid.rsplit("#", 1)[-1]
    name = frag.split("@", 1)[0] if "@" in frag else package
    if name not in wanted or msg["executable"] in seen:
        continue
    selections = [f for t, f in wanted[name] if t is None or t == target["name"]]
    if not selections:
        continue
    seen.add(msg["executable"])
    kind = target["kind"][0]
    src = os.path.relpath(target["src_path"], os.path.dirname(manifest))
    label = f"unittests {src}" if kind in ("lib", "bin") else src
    rows.append((os.path.dirname(manifest), msg["executable"], label, selections[0]))
for row in sorted(rows, key=lambda r: (r[0], not r[2].startswith("unittests"), r[2])):
    print("\t".join(row))
