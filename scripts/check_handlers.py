#!/usr/bin/env python3
"""Thin-handler checks of STYLE §2 / issue 12 §1, run by scripts/check-handlers.sh.

1. Handler size. A handler is an `async fn` (any visibility) in the HTTP sources
   (crates/issuer/src, crates/admin-api/src, crates/scim/src/http) that takes at least one
   actix extractor by value: web::Data/Path/Query/Form/Json/Payload/Bytes, HttpRequest, or a
   type that has `impl FromRequest for T` (or `extractor!(T, ...)`) in those crates. Helpers
   that take `&HttpRequest` or `&AppState` are not handlers. Size is counted from the `fn`
   line to its closing brace (doc comments and attributes excluded); `.await`s are counted in
   code only (not in strings or comments). Any handler over 40 lines or 3 awaits fails: there
   is no exceptions list.

2. No transaction or audit record outside the core and the application layer. `.begin()` and
   `audit::record(` (also through an alias such as `core_audit::record(`), and any `use` that
   imports `audit::record` (so that a bare `record(` cannot hide), in every crate but
   authz-core and app (outside #[cfg(test)] modules) fail.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HANDLER_DIRS = ["crates/issuer/src", "crates/admin-api/src", "crates/scim/src/http", "crates/gateway/src"]
# Everything outside the core (authz-core) and the application layer (app): the HTTP edges,
# the binary (CLI, serve) and the protocol kernels.
EFFECT_DIRS = [
    "crates/issuer/src",
    "crates/admin-api/src",
    "crates/scim/src",
    "crates/gateway/src",
    "crates/gatehouse/src",
    "crates/oidc-federation/src",
    "crates/saml/src",
    "crates/safe-fetch/src",
]
EXTRACTOR_CRATES = ["crates/issuer/src", "crates/admin-api/src", "crates/scim/src", "crates/gateway/src"]
MAX_LINES = 40
MAX_AWAITS = 3
BUILTIN_EXTRACTORS = {"Data", "Path", "Query", "Form", "Json", "Payload", "Bytes", "HttpRequest"}


def rust_files(dirs):
    seen = set()
    for d in dirs:
        for base, _, files in sorted(os.walk(os.path.join(ROOT, d))):
            for f in sorted(files):
                path = os.path.join(base, f)
                if f.endswith(".rs") and path not in seen:
                    seen.add(path)
                    yield path


def blank_literals(src):
    """The source with comments, strings and char literals replaced by spaces (newlines kept),
    so braces and `.await`s are only counted in code."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:i + 10]) and not (i and (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'r(#*)"', src[i:])
            end = src.find('"' + m.group(1), i + len(m.group(0)))
            j = n if end < 0 else end + 1 + len(m.group(1))
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", src[i:i + 12])
            if m:  # a char literal, not a lifetime
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def test_module_spans(code):
    """(start, end) offsets of `#[cfg(test)] mod … { … }` blocks."""
    spans = []
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", code):
        end = match_brace(code, m.end() - 1)
        spans.append((m.start(), end))
    return spans


def match_brace(code, open_idx):
    depth = 0
    for j in range(open_idx, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


FN_RE = re.compile(r"\b(async\s+)?fn\s+(\w+)\s*(<[^{;]*?>)?\s*\(")


def functions(code):
    """Every fn with a body: (name, is_async, params, start, body_open, body_close)."""
    for m in FN_RE.finditer(code):
        # the parameter list: to the matching ')'
        depth, j = 0, m.end() - 1
        while j < len(code):
            if code[j] == "(":
                depth += 1
            elif code[j] == ")":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        params = code[m.end():j]
        # the body starts at the first '{' at depth 0 after the signature (skip `;` = no body)
        k = j + 1
        angle = 0
        while k < len(code) and code[k] not in "{;":
            k += 1
        if k >= len(code) or code[k] == ";":
            continue
        close = match_brace(code, k)
        yield m.group(2), bool(m.group(1)), params, m.start(), k, close


def split_params(params):
    out, depth, cur = [], 0, ""
    for c in params:
        if c in "<([":
            depth += 1
        elif c in ">)]":
            depth -= 1
        if c == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
    if cur.strip():
        out.append(cur)
    return out


def extractor_names():
    names = set(BUILTIN_EXTRACTORS)
    for path in rust_files(EXTRACTOR_CRATES):
        src = open(path, encoding="utf-8").read()
        names.update(re.findall(r"impl\s+(?:actix_web::)?FromRequest\s+for\s+(\w+)", src))
        names.update(re.findall(r"\bextractor!\(\s*(\w+)\s*,", src))
    names.discard("$name")
    return names


def is_handler(params, extractors):
    for p in split_params(params):
        if ":" not in p:
            continue  # self
        ty = p.split(":", 1)[1].strip()
        if ty.startswith("&"):
            continue
        head = re.sub(r"^(actix_web::)?(web::)?", "", ty)
        head = re.match(r"\w+", head)
        if head and head.group(0) in extractors:
            return True
    return False


def line_of(code, idx):
    return code.count("\n", 0, idx) + 1


def scan():
    extractors = extractor_names()
    handlers = {}  # key -> (lines, awaits)
    effects = {}  # (key, kind) -> count
    for path in rust_files(HANDLER_DIRS + EFFECT_DIRS):
        rel = os.path.relpath(path, ROOT)
        code = blank_literals(open(path, encoding="utf-8").read())
        tests = test_module_spans(code)
        in_tests = lambda i: any(a <= i <= b for a, b in tests)
        fns = [f for f in functions(code) if not in_tests(f[3])]
        if any(rel.startswith(d + "/") for d in HANDLER_DIRS):
            for name, is_async, params, start, open_, close in fns:
                if not is_async or not is_handler(params, extractors):
                    continue
                lines = line_of(code, close) - line_of(code, start) + 1
                awaits = len(re.findall(r"\.await\b", code[open_:close]))
                key = f"{rel}::{name}"
                if key in handlers:  # same name twice in a file (impl blocks): keep both
                    key = f"{key}@{line_of(code, start)}"
                handlers[key] = (lines, awaits)
        if any(rel.startswith(d + "/") for d in EFFECT_DIRS):
            for kind, rx in (("begin", r"\.begin\(\)"), ("audit::record", r"\b\w*audit::record(?:_all)?\(")):
                for m in re.finditer(rx, code):
                    if in_tests(m.start()):
                        continue
                    # innermost enclosing fn
                    owner = "<module>"
                    best = -1
                    for name, _, _, start, open_, close in fns:
                        if open_ <= m.start() <= close and start > best:
                            owner, best = name, start
                    k = (f"{rel}::{owner}", kind)
                    effects[k] = effects.get(k, 0) + 1
    return handlers, effects


def imports_of_record():
    """`use …audit::record` / `use …audit::{…, record, …}` in the edge crates: the bare `record(`
    calls such an import allows would not be seen by the scan above."""
    found = []
    for path in rust_files(EFFECT_DIRS):
        rel = os.path.relpath(path, ROOT)
        code = blank_literals(open(path, encoding="utf-8").read())
        for m in re.finditer(r"\buse\s+[\w:]*\baudit::(?:record(?:_all)?\b|\{[^}]*\brecord(?:_all)?\b)", code):
            found.append(f"{rel}:{line_of(code, m.start())}")
    return found


def main():
    handlers, effects = scan()
    over = {k: v for k, v in handlers.items() if v[0] > MAX_LINES or v[1] > MAX_AWAITS}
    failed = False
    print(f"handler size: {len(handlers)} handlers, {len(over)} over {MAX_LINES} lines or "
          f"{MAX_AWAITS} awaits")
    for k in sorted(over):
        lines, awaits = over[k]
        failed = True
        print(f"  {k}: {lines} lines, {awaits} awaits (limit {MAX_LINES} lines, {MAX_AWAITS} awaits)")
    imports = imports_of_record()
    print(f"edge effects: {sum(effects.values())} `.begin()`/`audit::record(` and {len(imports)} "
          f"imports of `audit::record` outside authz-core and app")
    for (k, kind), n in sorted(effects.items()):
        failed = True
        print(f"  {k}: {n} x {kind}: transactions and audit records belong to a use case "
              f"(crates/app) or the core")
    for where in imports:
        failed = True
        print(f"  {where}: imports audit::record: audit records are written by a use case "
              f"(crates/app) or the core")
    if failed:
        print("check-handlers: FAILED (STYLE §2: a handler parses, calls one use case, renders)")
        return 1
    print("check-handlers: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
