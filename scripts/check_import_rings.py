#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a ring (issue 12 §1).

For each crate given (default: the HTTP edges and the application layer), every source file is
a module (`src/a.rs` and `src/a/mod.rs` are `a`, `src/a/b.rs` is `a::b`). A module depends on
another when its code names it: `crate::x::…`, `super::…`, `self::…` or a bare child path. A
module naming its own submodules (routing them, re-exporting them) is not counted: they are its
parts. Any strongly connected set of two or more modules is a ring and is printed with one
path through it. Comments and string literals are ignored.

Usage: scripts/check_import_rings.py [crate_dir ...]
"""
import re
import sys
from pathlib import Path

DEFAULT = ["crates/issuer", "crates/admin-api", "crates/scim", "crates/app", "crates/gateway", "crates/gatehouse"]


def strip(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    src = re.sub(r"//[^\n]*", " ", src)
    src = re.sub(r'r#*"(?:.|\n)*?"#*', '""', src)
    src = re.sub(r'"(?:\\.|[^"\\])*"', '""', src)
    return src


def modules(src_dir: Path):
    mods = {}
    for f in sorted(src_dir.rglob("*.rs")):
        rel = f.relative_to(src_dir).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "mod":
            parts = parts[:-1]
        if parts in (["lib"], ["main"]):
            parts = []
        is_dir_mod = f.name in ("mod.rs", "lib.rs", "main.rs")
        mods[tuple(parts)] = (f, is_dir_mod)
    return mods


def expand_use(text: str):
    """Yields the paths a `use` tree names: `a::{b, c::d}` -> a::b, a::c::d."""
    text = text.strip()
    m = re.match(r"^([\w:]*?)(?:::)?\{(.*)\}$", text, flags=re.S)
    if not m:
        yield text
        return
    prefix, body = m.group(1), m.group(2)
    depth, cur, items = 0, "", []
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    for it in items:
        it = it.strip()
        if not it:
            continue
        for sub in expand_use(it):
            yield f"{prefix}::{sub}" if prefix else sub


def resolve(path: list, here: tuple, is_dir_mod: bool, mods: dict):
    """The module a path names, from module `here`, or None (external or not a module)."""
    if not path:
        return None
    base = here if is_dir_mod else here[:-1]
    if path[0] == "crate":
        cur, rest = (), path[1:]
    elif path[0] == "super":
        cur, rest = base, path
        while rest and rest[0] == "super":
            cur, rest = cur[:-1], rest[1:]
    elif path[0] == "self":
        cur, rest = (here if is_dir_mod else here), path[1:]
        cur = here
    else:
        # A bare path: a child module of this one (`child::f`) or a sibling reached via `use`.
        cur, rest = here, path
        if (cur + (rest[0],)) not in mods:
            return None
    best = cur if cur in mods else None
    for p in rest:
        cur = cur + (p,)
        if cur in mods:
            best = cur
        else:
            break
    return best


def graph(crate: Path):
    src = crate / "src"
    mods = modules(src)
    edges = {m: set() for m in mods}
    for m, (f, is_dir_mod) in mods.items():
        code = strip(f.read_text())
        paths = []
        for u in re.finditer(r"\buse\s+([^;]+);", code):
            paths.extend(expand_use(u.group(1)))
        paths.extend(re.findall(r"\b((?:crate|super|self)(?:::\w+)+)", code))
        for p in paths:
            p = re.sub(r"\s+as\s+\w+$", "", p.strip())
            target = resolve([s for s in p.split("::") if s], m, is_dir_mod, mods)
            if target is None or target == m or target[: len(m)] == m:
                continue  # itself, or one of its own parts
            edges[m].add(target)
    return edges


def rings(edges):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def name(m):
    return "::".join(m) or "crate"


def main():
    crates = [Path(c) for c in (sys.argv[1:] or DEFAULT)]
    failed = False
    for c in crates:
        if not (c / "src").is_dir():
            continue
        edges = graph(c)
        for comp in rings(edges):
            failed = True
            members = set(comp)
            # one cycle through the ring, for the message
            start = sorted(comp)[0]
            path, seen, cur = [start], {start}, start
            while True:
                nxt = sorted(w for w in edges[cur] if w in members)
                cand = [w for w in nxt if w not in seen] or nxt
                cur = cand[0]
                path.append(cur)
                if cur in seen:
                    break
                seen.add(cur)
            print(f"{c}: import ring among {len(comp)} modules: "
                  + " -> ".join(name(m) for m in path))
        n_edges = sum(len(v) for v in edges.values())
        print(f"{c}: {len(edges)} modules, {n_edges} imports between them", file=sys.stderr)
    if failed:
        print("Break the ring: move what both sides need into a module of its own "
              "(STYLE: modules point one way).")
        sys.exit(1)
    print("no import rings")


if __name__ == "__main__":
    main()
