#!/usr/bin/env python3
"""Size limits of issue 13: no file over MAX_FILE lines, no function over MAX_FUNC lines.

A function is a definition that starts at column 0 (`Type Name(...) {` or `Name::Name(...) :`)
and ends at the next `}` in column 0, which is how clang-format lays out this repository's code.

usage: check_sizes.py [--max-file N] [--max-func N] PATH...   (folders are walked for *.cpp/*.h)
Exit status 1 when a limit is exceeded; every offender is listed.
"""
import argparse
import os
import re
import sys

DEF = re.compile(r"^[A-Za-z_].*\)\s*(const\s*)?(noexcept\s*)?(override\s*)?(->\s*[\w:<>]+\s*)?\{\s*$|"
                 r"^[A-Za-z_][\w:<>,\s\*&]*\(.*\)\s*:\s*\w")


def files(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                for n in sorted(names):
                    if n.endswith((".cpp", ".h")):
                        yield os.path.join(root, n)
        else:
            yield p


def functions(lines):
    start = None
    for i, line in enumerate(lines):
        if start is None and DEF.match(line) and not line.startswith(("namespace", "struct",
                                                                       "class", "enum", "}")):
            start = i
            if line.rstrip().endswith("}"):
                start = None
        elif start is not None and line.startswith("}"):
            yield start + 1, i - start + 1, lines[start].strip()
            start = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-file", type=int, default=700)
    ap.add_argument("--max-func", type=int, default=120)
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    bad = []
    for f in files(a.paths):
        lines = open(f, encoding="utf-8").read().split("\n")
        if len(lines) - 1 > a.max_file:
            bad.append(f"{f}: {len(lines) - 1} lines (limit {a.max_file})")
        for at, n, head in functions(lines):
            if n > a.max_func:
                bad.append(f"{f}:{at}: function of {n} lines (limit {a.max_func}): {head[:70]}")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
