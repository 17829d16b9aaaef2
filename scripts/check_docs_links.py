#!/usr/bin/env python3
"""Checks the documentation's links (issue 16 §4). Run from anywhere; exits 1 with one line per
problem.

- Every relative link in README.md, docs/**/*.md and examples/**/*.md resolves to a file or
  folder inside the repository, and a `#fragment` into a Markdown file names one of its headings
  (GitHub's slugs) or an explicit `id`.
- No link leaves the repository (`../` past the root, an absolute filesystem path, `file:`).
- Every file under docs/ is reachable from docs/README.md by following links.
- No text in README.md, docs/ or examples/ cites a document outside the repository (the design
  brief, the style guide, review notes, a path on the author's machine): each sentence must stand
  alone.
"""
import os
import re
import sys
from collections import deque
from urllib.parse import unquote

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SKIP_DIRS = {"node_modules", ".venv", ".run", "target", "__pycache__", ".git"}
# Documents outside the repository, and paths that only exist on someone's machine.
OUTSIDE = [
    (re.compile(r"DESIGN\s*§"), "cites the design brief (DESIGN §)"),
    (re.compile(r"STYLE\s*§"), "cites the style guide (STYLE §)"),
    (re.compile(r"\b(?:DESIGN|STYLE)\.md\b"), "cites a document outside the repository"),
    (re.compile(r"\.\./shared\b"), "points outside the repository (../shared)"),
    (re.compile(r"shared/reviews"), "cites review notes outside the repository"),
    (re.compile(r"(?<![\w.])/work/"), "names a path on the author's machine (/work/)"),
]
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_ATTR = re.compile(r"""<(?:a|img)\b[^>]*\b(?:href|src)\s*=\s*["']([^"']+)["']""", re.I)
HTML_ID = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def rel(path):
    return os.path.relpath(path, ROOT)


def markdown_files():
    out = [os.path.join(ROOT, "README.md")]
    for top in ("docs", "examples"):
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
            out += [os.path.join(d, f) for f in sorted(files) if f.endswith(".md")]
    return [p for p in out if os.path.isfile(p)]


def text_files(top):
    for d, dirs, files in os.walk(os.path.join(ROOT, top)):
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
        for f in sorted(files):
            p = os.path.join(d, f)
            try:
                with open(p, encoding="utf-8") as fh:
                    yield p, fh.read()
            except (UnicodeDecodeError, OSError):
                continue  # binary


def prose_lines(text, keep_code=False):
    """(line number, line) outside fenced code blocks, with inline code removed unless
    `keep_code` (a heading's anchor is made from its code spans too)."""
    fence = None
    for n, line in enumerate(text.split("\n"), 1):
        m = re.match(r"^\s*(```+|~~~+)", line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * 3
            elif line.strip().startswith(fence):
                fence = None
            continue
        if fence is None:
            yield n, line if keep_code else re.sub(r"`[^`]*`", "", line)


def links(text):
    for n, line in prose_lines(text):
        for m in INLINE_LINK.finditer(line):
            yield n, m.group(1)
        m = REF_DEF.match(line)
        if m:
            yield n, m.group(1)
        for m in HTML_ATTR.finditer(line):
            yield n, m.group(1)


def slug(heading):
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    h = re.sub(r"<[^>]+>", "", heading)
    h = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", h)  # a link's text only
    h = h.replace("`", "").strip().lower()
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


_anchors = {}


def anchors(path):
    if path not in _anchors:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        seen, out = {}, set()
        for _, line in prose_lines(text, keep_code=True):
            m = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                s = slug(m.group(1))
                k = seen.get(s, 0)
                seen[s] = k + 1
                out.add(s if k == 0 else f"{s}-{k}")
        out.update(HTML_ID.findall(text))
        _anchors[path] = out
    return _anchors[path]


def inside(path):
    return path == ROOT or path.startswith(ROOT + os.sep)


def resolve(source, target):
    """The local file a link points at (None for a web link), or raises ValueError."""
    if target.startswith("#"):
        return source, target[1:]
    if target.startswith("//") or re.match(r"^(https?|mailto):", target):
        return None, None
    if SCHEME.match(target):
        raise ValueError("is not a web link or a repository path")
    path, _, fragment = target.partition("#")
    path = unquote(path.split("?")[0])
    if path.startswith("~") or re.match(r"^/(work|home|root|tmp|usr|etc|var)/", path):
        raise ValueError("leaves the repository")
    base = ROOT if path.startswith("/") else os.path.dirname(source)
    full = os.path.realpath(os.path.join(base, path.lstrip("/")))
    if not inside(full):
        raise ValueError("leaves the repository")
    if not os.path.exists(full):
        raise ValueError("names no file in the repository")
    return full, fragment


def main():
    problems = []
    graph = {}
    for md in markdown_files():
        with open(md, encoding="utf-8") as fh:
            text = fh.read()
        graph[md] = set()
        for n, target in links(text):
            try:
                full, fragment = resolve(md, target)
            except ValueError as e:
                problems.append(f"{rel(md)}:{n}: link '{target}' {e}")
                continue
            if full is None:
                continue
            graph[md].add(full)
            if fragment and full.endswith(".md") and os.path.isfile(full):
                if unquote(fragment) not in anchors(full):
                    problems.append(
                        f"{rel(md)}:{n}: link '{target}': {rel(full)} has no heading #{fragment}"
                    )

    for top in ("README.md", "docs", "examples"):
        items = (
            [(os.path.join(ROOT, top), open(os.path.join(ROOT, top), encoding="utf-8").read())]
            if top.endswith(".md")
            else text_files(top)
        )
        for path, text in items:
            for n, line in enumerate(text.split("\n"), 1):
                for pattern, why in OUTSIDE:
                    if pattern.search(line):
                        problems.append(f"{rel(path)}:{n}: {why}: {line.strip()[:100]}")

    index = os.path.join(ROOT, "docs", "README.md")
    if not os.path.isfile(index):
        problems.append("docs/README.md is missing: it must index every document in docs/")
    else:
        seen, queue = {index}, deque([index])
        while queue:
            for nxt in graph.get(queue.popleft(), ()):
                if os.path.isdir(nxt):
                    continue
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        for path, _ in text_files("docs"):
            if path not in seen:
                problems.append(f"{rel(path)}: not reachable from docs/README.md")

    for p in problems:
        print(p)
    if problems:
        print(f"check_docs_links: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check_docs_links: {len(graph)} Markdown files, links and index OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
