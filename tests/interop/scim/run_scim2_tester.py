#!/usr/bin/env python3
"""Run every scim2-tester check against a SCIM 2.0 server.

    python run_scim2_tester.py --url BASE --token TOKEN \
        --expected-failures expected-failures.txt [--report out.json]

Prints one line per check result, writes an optional JSON report, and exits 1
when discovery failed so that no User/Group check ran, or when a check failed
that expected-failures.txt does not list. See NOTES.md for what is checked.
"""

import argparse
import json
import re
import sys
import traceback

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckConfig, CheckResult, Status, check_server
from scim2_tester.checkers import core_schemas_validation
from scim2_tester.utils import CheckContext

FAILED = {Status.ERROR, Status.CRITICAL}
METHOD_REASON = re.compile(r"(POST|PUT|PATCH|DELETE) /")


def check_id(result: CheckResult) -> str:
    """Stable name of a result: [ResourceType/]check[/attribute path or HTTP method]."""
    detail = None
    if isinstance(result.data, dict) and result.data.get("urn"):
        detail = result.data["urn"]
    elif (result.title or "").endswith("_endpoint_methods"):
        match = METHOD_REASON.match(result.reason or "")
        detail = match and match.group(1)
    parts = [result.resource_type, result.title or "unnamed_check", detail]
    return "/".join(p for p in parts if p)


def read_expected(path: str) -> dict[str, str]:
    expected = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            ident, sep, reason = line.partition(" #")
            if not sep or not reason.strip():
                sys.exit(f"{path}:{number}: expected '<check id> # <reason>', got {line!r}")
            expected[ident.strip()] = reason.strip()
    return expected


def covered_by(ident: str, expected: dict[str, str]) -> str | None:
    """The expected-failures entry covering an identifier, if any."""
    return next((e for e in expected if ident == e or ident.startswith(e + "/")), None)


def run_checks(url: str, token: str, timeout: float) -> list[CheckResult]:
    http = httpx2.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
    )
    # No models are given to the client, so check_server builds them from the
    # server's own /Schemas and /ResourceTypes answers.
    client = SyncSCIMClient(http)
    results = check_server(client)
    # core_schemas_validation is exported by scim2-tester but check_server does
    # not call it; run it too so that every check runs.
    results += core_schemas_validation(CheckContext(client, CheckConfig()))
    return results


def one_line(text: str | None, limit: int = 400) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def jsonable(value):
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def report_data(data):
    try:
        return json.loads(json.dumps(data, default=jsonable))
    except Exception:
        return repr(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2/acme")
    parser.add_argument("--token", required=True, help="bearer token")
    parser.add_argument("--expected-failures", required=True, metavar="FILE")
    parser.add_argument("--report", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    parser.add_argument(
        "--require-resource-types", default="User,Group",
        help="comma-separated resource types whose checks must run (default: User,Group)",
    )
    args = parser.parse_args()
    expected = read_expected(args.expected_failures)

    try:
        results = run_checks(args.url, args.token, args.timeout)
    except Exception as exc:  # a crash of the tester is a failure, never a pass
        traceback.print_exc()
        results = [CheckResult(status=Status.ERROR, title="harness_crash",
                               reason=f"scim2-tester raised {type(exc).__name__}: {exc}")]

    rows, unexpected, xfail, passed, skipped = [], [], [], 0, 0
    for r in results:
        ident = check_id(r)
        entry = covered_by(ident, expected) if r.title != "harness_crash" else None
        if r.status in FAILED:
            label = "XFAIL" if entry else "FAIL"
            (xfail if entry else unexpected).append(ident)
        elif r.status == Status.SKIPPED:
            label, skipped = "SKIP", skipped + 1
        else:
            label, passed = "ok", passed + 1
        print(f"{label:5} {ident}  [{r.status.name}] {one_line(r.reason)}")
        rows.append({
            "id": ident, "outcome": label, "status": r.status.name, "check": r.title,
            "resource_type": r.resource_type, "reason": r.reason,
            "expected_failure": entry, "tags": sorted(r.tags or []),
            "data": report_data(r.data),
        })

    problems = []
    ran = {r.resource_type for r in results if r.resource_type and r.status != Status.SKIPPED}
    missing = [t for t in args.require_resource_types.split(",") if t and t not in ran]
    if missing:
        problems.append(
            f"no checks ran for resource type(s) {', '.join(missing)} "
            f"(ran for: {', '.join(sorted(ran)) or 'none'}); discovery of "
            "/ServiceProviderConfig, /ResourceTypes or /Schemas probably failed, see above"
        )
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected failure(s): {', '.join(unexpected)}")

    failed_ids = {row["id"] for row in rows if row["outcome"] in ("FAIL", "XFAIL")}
    for entry in expected:
        matching = [row for row in rows if covered_by(row["id"], {entry: ""})]
        if not matching:
            print(f"note: expected failure matched no check: {entry}")
        elif not any(row["id"] in failed_ids for row in matching):
            print(f"note: expected failure now passes: {entry}, remove it")

    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump({"url": args.url, "problems": problems, "results": rows}, f, indent=2)

    if xfail:
        print(f"{len(xfail)} expected failure(s) (listed in {args.expected_failures})")
    for problem in problems:
        print(f"error: {problem}")
    print(f"scim2-tester: {passed} passed, {len(unexpected)} failed, {skipped} skipped")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
