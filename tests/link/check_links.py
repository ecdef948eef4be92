#!/usr/bin/env python3
"""Which process links what (issue 13): iptvd links no GStreamer, iptvd-worker no SQLite, iptvctl
neither, libgstiptv.so no yaml-cpp and no SQLite, the daemon-worker protocol (iptv_wire) neither
GStreamer nor SQLite.

Two checks per binary, so neither depends on the linker's --as-needed:
1. the NEEDED entries of the built file (readelf -d): what the loader will actually map;
2. the link command ninja runs for it (build.ninja LINK_ARGS): what the build hands the linker,
   which would show up as NEEDED under -Wl,--no-as-needed.
Each binary also has a library it must link (e.g. iptvd SQLite), so a parse that finds nothing
fails instead of passing.

usage: check_links.py BUILD_ROOT
"""
import os
import re
import subprocess
import sys

GST = r"libgst[a-z0-9_-]*-1\.0|gstreamer-1\.0|libgstreamer"
SQLITE = r"sqlite3"
YAML = r"yaml-cpp"

# target path (relative to the build root): (forbidden {name: regex}, required {name: regex})
RULES = {
    "orchestrator/iptvd/iptvd": ({"GStreamer": GST}, {"SQLite": SQLITE}),
    "orchestrator/iptvd/iptvd-worker": ({"SQLite": SQLITE}, {"GStreamer": GST}),
    "orchestrator/iptvctl/iptvctl": ({"GStreamer": GST, "SQLite": SQLITE}, {"libsoup": r"soup-3"}),
    "plugins/iptv/libgstiptv.so": ({"yaml-cpp": YAML, "SQLite": SQLITE}, {"GStreamer": GST}),
    # The daemon-worker protocol (orchestrator/lib/wire) is shared by iptvd and iptvd-worker:
    # its test links iptv_wire alone (and the test main, which needs GLib).
    "tests/wire/test_wire": ({"GStreamer": GST, "SQLite": SQLITE}, {"GLib": r"glib-2\.0"}),
}


def needed(path):
    out = subprocess.run(["readelf", "-d", path], check=True, capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def link_args(build_ninja, target):
    """LINK_ARGS of the `build TARGET: ..._LINKER ...` statement in build.ninja."""
    lines = open(build_ninja, encoding="utf-8").read().split("\n")
    head = "build " + target.replace(":", "$:") + ":"
    for i, line in enumerate(lines):
        if line.startswith(head) and "LINKER" in line:
            args = []
            for follow in lines[i + 1:]:
                if not follow.startswith(" "):
                    break
                if follow.strip().startswith("LINK_ARGS ="):
                    args.append(follow.split("=", 1)[1])
            if args:
                return " ".join(args)
    return None


def main():
    build = sys.argv[1]
    failures = []
    for target, (forbidden, required) in RULES.items():
        path = os.path.join(build, target)
        if not os.path.exists(path):
            failures.append(f"{target}: not built")
            continue
        libs = needed(path)
        args = link_args(os.path.join(build, "build.ninja"), target)
        if args is None:
            failures.append(f"{target}: no link statement found in build.ninja")
            continue
        print(f"{target}\n  NEEDED: {' '.join(libs)}")
        for what, rx in forbidden.items():
            hits = [l for l in libs if re.search(rx, l)]
            if hits:
                failures.append(f"{target} links {what} (NEEDED {', '.join(hits)})")
            hits = sorted(set(m.group(0) for m in re.finditer(r"\S*(?:" + rx + r")\S*", args)))
            if hits:
                failures.append(f"{target}: its link command names {what} ({', '.join(hits)})")
        for what, rx in required.items():
            if not any(re.search(rx, l) for l in libs):
                failures.append(f"{target} should link {what} but NEEDED has none: the check "
                                "would not see it either")
            if not re.search(rx, args):
                failures.append(f"{target}: its link command does not name {what}: the check "
                                "would not see it either")
    for f in failures:
        print("FAIL: " + f)
    print("ok" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
