#!/usr/bin/env python3
"""The architecture as a test: which file calls which, read from the
built objects' symbol tables (nm), must respect the layers of lib/

    base < gemm, image, formats, draw < layers, search < model < convert, data < train < cmd

(a file may use its own subsystem and any lower one; siblings on one level,
such as convert and data, stay independent), and no two files may need
each other, directly or through others (no cycles), so that each file can
be read, tested and replaced with only what is below it.

usage: layering.py SRCDIR BUILDDIR   (exit 0 clean, 1 with the offending calls)
"""
import os
import re
import subprocess
import sys

LEVEL = {"base": 0, "gemm": 1, "image": 1, "formats": 1, "draw": 1, "layers": 2, "search": 2,
         "model": 3, "convert": 4, "data": 4, "train": 5, "cmd": 6}


def objects(srcdir, builddir):
    """The objects of the sources that exist (not those left by a file
    since renamed)."""
    found = []
    for sub in sorted(LEVEL):
        top = os.path.join(builddir, "cmd" if sub == "cmd" else "lib/" + sub)
        if not os.path.isdir(top):
            continue
        for name in sorted(os.listdir(top)):
            if not name.endswith(".o") or name.startswith("onnx.pb-c"):
                continue
            path = os.path.join(top, name)
            src = os.path.join(srcdir, "cmd" if sub == "cmd" else "lib/" + sub,
                               name_of(sub, path).split("/")[1] + ".c")
            if os.path.exists(src):
                found.append((sub, path))
    return found


def symbols(path):
    out = subprocess.run(["nm", "--defined-only", "-g", path],
                         capture_output=True, text=True, check=True).stdout
    defined = {line.split()[-1] for line in out.splitlines() if line.strip()}
    out = subprocess.run(["nm", "--undefined-only", path],
                         capture_output=True, text=True, check=True).stdout
    used = {line.split()[-1] for line in out.splitlines() if line.strip()}
    return defined, used


def name_of(sub, path):
    base = os.path.basename(path)[:-2]
    if base.startswith("alexnet-"):  # cmd's objects carry the target name
        base = base[len("alexnet-"):]
    return sub + "/" + base


def cycles(edges, nodes):
    """Strongly connected components with more than one file (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out


def include_problems(srcdir):
    """The same order for #include lines, which also carry the uses of
    types and macros that symbols do not show."""
    problems = []
    for sub in sorted(LEVEL):
        top = os.path.join(srcdir, "cmd" if sub == "cmd" else "lib/" + sub)
        if not os.path.isdir(top):
            continue
        for name in sorted(os.listdir(top)):
            if not name.endswith((".c", ".h")) or "onnx.pb-c" in name:
                continue
            with open(os.path.join(top, name), encoding="utf-8") as f:
                text = f.read()
            for inc in re.findall(r'#include "([a-z_]+)/[^"]+"', text):
                if inc in LEVEL and inc != sub and LEVEL[inc] >= LEVEL[sub]:
                    problems.append("%s/%s includes a header of %s"
                                    % (sub, name, inc))
    return problems


def main():
    srcdir = sys.argv[1] if len(sys.argv) > 1 else "."
    builddir = sys.argv[2] if len(sys.argv) > 2 else srcdir
    objs = objects(srcdir, builddir)
    if len(objs) < 20:
        print("layering: objects not built under %s" % builddir)
        return 2
    owner, uses, sub_of = {}, {}, {}
    for sub, path in objs:
        node = name_of(sub, path)
        defined, used = symbols(path)
        for s in defined:
            owner[s] = node
        uses[node] = used
        sub_of[node] = sub
    edges, why, problems = {}, {}, []
    for node, used in uses.items():
        for s in sorted(used):
            target = owner.get(s)
            if not target or target == node:
                continue
            edges.setdefault(node, set()).add(target)
            why.setdefault((node, target), s)
    for (a, b), s in sorted(why.items()):
        sa, sb = sub_of[a], sub_of[b]
        if sa != sb and LEVEL[sa] <= LEVEL[sb]:
            problems.append("%s uses %s (%s): %s is not below %s"
                            % (a, b, s, sb, sa))
    for comp in cycles(edges, sorted(uses)):
        links = ["%s -> %s (%s)" % (a, b, why[(a, b)])
                 for a in comp for b in comp if (a, b) in why]
        problems.append("cycle: " + "; ".join(links))
    problems += include_problems(srcdir)
    for p in problems:
        print(p)
    print("layering: %d files, %d uses between files, %d problems"
          % (len(uses), len(why), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
