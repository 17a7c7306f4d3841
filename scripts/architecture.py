#!/usr/bin/env python3
"""Checks the layering of src/: prints import cycles between top-level modules and functions
longer than 120 lines, and exits 1 if there is either.

    python3 scripts/architecture.py [SRC_DIR]

A module's edges are the `crate::<other>` paths in its files (test modules: `tests.rs` and `#[cfg(test)]`
blocks to their end, and plain `//` comments are left out; doc comments count). Cycles are the strongly connected components
of that graph with more than one module; each is printed with one edge per pair and the first
file that makes it. A function's length counts from its `fn` line to its closing brace.
"""

import os
import re
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
LIMIT = 120


def top_module(path):
    rel = os.path.relpath(path, SRC)
    first = rel.split(os.sep)[0]
    return first[:-3] if first.endswith(".rs") else first


def code_lines(text):
    """Lines without comments, stopping at the first `#[cfg(test)]` (tests sit at the end)."""
    out = []
    for line in text.splitlines():
        if line.strip().startswith("#[cfg(test)]"):
            break
        # Doc comments count: an intra-doc link such as [`crate::x`] is a reference too.
        out.append(line if line.lstrip().startswith(("///", "//!")) else re.sub(r"//.*", "", line))
    return out


def rust_files():
    for root, _, files in os.walk(SRC):
        for f in sorted(files):
            if f.endswith(".rs") and f not in ("main.rs", "tests.rs"):
                yield os.path.join(root, f)


def referenced(text):
    """Top-level modules named by `crate::x` paths, including grouped `crate::{x, y::z}`."""
    names = set(re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", text))
    for m in re.finditer(r"\bcrate::\{", text):
        depth, i, items, item = 1, m.end(), [], ""
        while i < len(text) and depth > 0:
            c = text[i]
            depth += (c == "{") - (c == "}")
            if depth == 1 and c == ",":
                items.append(item)
                item = ""
            elif depth >= 1:
                item += c
            i += 1
        items.append(item)
        for it in items:
            head = re.match(r"\s*([a-z_][a-z0-9_]*)", it)
            if head:
                names.add(head.group(1))
    return names - {"self", "super"}


def edges():
    found = {}
    for path in rust_files():
        me = top_module(path)
        if me in ("lib",):
            continue
        with open(path, encoding="utf-8") as fh:
            lines = code_lines(fh.read())
        for other in referenced("\n".join(lines)):
            if other != me:
                found.setdefault((me, other), os.path.relpath(path, SRC))
    return found


def cycles(found):
    graph = {}
    for a, b in found:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
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
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def long_functions():
    out = []
    fn_re = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(async\s+)?(unsafe\s+)?fn\s+([a-z_][a-z0-9_]*)")
    for path in rust_files():
        with open(path, encoding="utf-8") as fh:
            lines = code_lines(fh.read())
        i = 0
        while i < len(lines):
            m = fn_re.match(lines[i])
            if not m:
                i += 1
                continue
            depth, started, j = 0, False, i
            while j < len(lines):
                depth += lines[j].count("{") - lines[j].count("}")
                started = started or "{" in lines[j]
                if ";" in lines[j] and not started:
                    break  # a declaration without a body
                if started and depth <= 0:
                    break
                j += 1
            n = j - i + 1
            if started and n > LIMIT:
                out.append((n, os.path.relpath(path, SRC), i + 1, m.group(6)))
            i += 1
    return sorted(out, reverse=True)


def main():
    found = edges()
    comps = cycles(found)
    longs = long_functions()
    print("module cycles: %d" % len(comps))
    for comp in comps:
        pairs = [(a, b) for (a, b) in sorted(found) if a in comp and b in comp]
        print("  {%s}" % ", ".join(comp))
        for a, b in pairs:
            print("    %s -> %s  (%s)" % (a, b, found[(a, b)]))
    print("functions over %d lines: %d" % (LIMIT, len(longs)))
    for n, path, line, name in longs:
        print("  %4d  %s:%d  %s" % (n, path, line, name))
    return 1 if comps or longs else 0


if __name__ == "__main__":
    sys.exit(main())
