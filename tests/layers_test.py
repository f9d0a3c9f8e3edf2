#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""user/ in layers: calls go one way (README: Layout).

Checks, from the #include lines of user/ (in C a call needs a declaration):
every source file sits in a layer folder that has a README.md; a file
includes only its own folder's headers and those of lower layers; no two
files include each other, directly or around a cycle (a .c and its .h
count as one unit). Exit 1 on any violation, naming it.
"""
import os
import re
import sys

# Highest first; folders on one line are one layer and must not call each other.
LAYERS = [
    ["cmd"],
    ["core"],
    ["kernel", "metrics", "out"],
    ["decode"],
    ["track"],
    ["pair"],
    ["proto"],
    ["lib"],
]
RANK = {f: i for i, fs in enumerate(LAYERS) for f in fs}
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "user")
fails = 0


def fail(msg):
    global fails
    fails += 1
    print("FAIL " + msg)


def main():
    files = {}
    for d, _, names in os.walk(ROOT):
        for n in sorted(names):
            if n.endswith((".c", ".h")):
                rel = os.path.relpath(os.path.join(d, n), ROOT)
                with open(os.path.join(d, n), encoding="utf-8") as f:
                    files[rel] = re.findall(r'^#include "([^"]+)"', f.read(), re.M)
    for rel in sorted(files):
        top = rel.split("/")[0]
        if "/" not in rel:
            fail("user/%s is not in a layer folder" % rel)
        elif top not in RANK:
            fail("user/%s: folder %s/ is in no layer (tests/layers_test.py)" % (rel, top))
    for top in sorted({r.split("/")[0] for r in files if "/" in r}):
        if not os.path.isfile(os.path.join(ROOT, top, "README.md")):
            fail("user/%s/ has no README.md (what it owns, what it may call)" % top)
    edges = set()
    for rel, incs in files.items():
        a = rel.split("/")[0]
        for inc in incs:
            if inc not in files:
                continue	# include/, the skeleton, tests' own
            b = inc.split("/")[0]
            unit_a, unit_b = os.path.splitext(rel)[0], os.path.splitext(inc)[0]
            if unit_a != unit_b:
                edges.add((unit_a, unit_b))
            if a == b or a not in RANK or b not in RANK:
                continue
            if RANK[b] <= RANK[a]:
                fail("user/%s includes %s: %s/ may not call %s/ (layers: %s)" % (
                    rel, inc, a, b, " > ".join("/".join(l) for l in LAYERS)))
    # Cycles between units, depth-first.
    adj = {}
    for a, b in edges:
        adj.setdefault(a, []).append(b)
    state = {}

    def visit(u, path):
        state[u] = 1
        for v in sorted(adj.get(u, [])):
            if state.get(v) == 1:
                fail("include cycle: " + " -> ".join(path[path.index(v):] + [v]))
            elif not state.get(v):
                visit(v, path + [v])
        state[u] = 2

    for u in sorted(adj):
        if not state.get(u):
            visit(u, [u])
    print("%d files, %d include edges between units: %s" % (
        len(files), len(edges), "FAILED" if fails else "one way, no cycles"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
