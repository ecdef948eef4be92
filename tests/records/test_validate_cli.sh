#!/usr/bin/env bash
# iptvctl validate as a real process: exit codes, human output, JSON output.
set -u
ctl=$1 root=$2
fail=0
check() { # name expected_rc actual_rc
  if [ "$2" != "$3" ]; then echo "FAIL $1: exit $3, expected $2"; fail=1; else echo "ok   $1"; fi
}
out=$("$ctl" validate "$root/channels" 2>&1); check "demo channels valid" 0 $?
echo "$out" | grep -q "all valid" || { echo "FAIL no 'all valid' in: $out"; fail=1; }

out=$("$ctl" validate "$root/tests/data/bad-channels/profile-typo.yaml" 2>&1); check "bad record" 1 $?
want="$root/tests/data/bad-channels/profile-typo.yaml:5:5: profiles[1]: unknown profile '720p-3mbs' (did you mean '720p-3mbps'?)"
echo "$out" | grep -qF "$want" || { echo "FAIL message: $out"; fail=1; }

"$ctl" validate >/dev/null 2>&1; check "no path is a usage error" 2 $?
"$ctl" validate --format xml "$root/channels" >/dev/null 2>&1; check "bad format is a usage error" 2 $?
"$ctl" validate /nonexistent/channels >/dev/null 2>&1; check "missing path is invalid" 1 $?

json=$("$ctl" validate --format json "$root/tests/data/bad-channels" 2>/dev/null); check "json bad folder" 1 $?
echo "$json" | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["valid"] is False
errs = j["errors"]
assert len(errs) >= 25, len(errs)
e = [x for x in errs if x["file"].endswith("profile-typo.yaml")][0]
assert (e["line"], e["column"], e["path"]) == (5, 5, "profiles[1]"), e
print("ok   json fields")' || fail=1

# The article's records have no source: iptvd would not run them, so validate says so as errors
# (issue 25 item 8: one admission rule for validate and the daemon).
json=$("$ctl" validate --format json "$root/tests/data/article"); check "article json" 1 $?
echo "$json" | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
ids = sorted(c["channel_id"] for c in j["channels"])
assert ids == ["local-news-hd", "local-news-sd"], ids
assert not any(c["runnable"] for c in j["channels"])
assert all("no source" in e["message"] for e in j["errors"]), j["errors"]
print("ok   article json")' || fail=1

# Issue 25 item 8: a file:// source that does not exist, and missing rights metadata, are errors
# with file:line; a disabled record's problems are counted as warnings in the summary.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/ch"
printf 'channel_id: loop\nsource_type: public-domain\nsource: file:///nonexistent/loop.ts\nprofiles: [passthrough]\n' >"$tmp/ch/loop.yaml"
out=$("$ctl" validate "$tmp/ch" 2>&1); check "missing file source" 1 $?
echo "$out" | grep -qF "$tmp/ch/loop.yaml:3:1: source: file source /nonexistent/loop.ts does not exist" || { echo "FAIL file source: $out"; fail=1; }
echo "$out" | grep -q "all valid" && { echo "FAIL 'all valid' with an error: $out"; fail=1; }
rm "$tmp/ch/loop.yaml"
printf 'channel_id: feed\nsource: udp://239.0.0.1:5000\nprofiles: [passthrough]\n' >"$tmp/ch/feed.yaml"
out=$("$ctl" validate "$tmp/ch" 2>&1); check "no rights" 1 $?
echo "$out" | grep -qF "$tmp/ch/feed.yaml:1:1: rights: no rights metadata" || { echo "FAIL rights: $out"; fail=1; }
printf 'channel_id: feed\nstatus: disabled\nsource: udp://239.0.0.1:5000\nprofiles: [passthrough]\n' >"$tmp/ch/feed.yaml"
out=$("$ctl" validate "$tmp/ch" 2>&1); check "disabled, no rights" 0 $?
echo "$out" | grep -qF "0 error(s), 1 warning(s): valid, with warnings" || { echo "FAIL summary: $out"; fail=1; }
echo "$out" | grep -q "all valid" && { echo "FAIL 'all valid' with a warning: $out"; fail=1; }
# Issue 14: dash with MPEG-TS segments is refused with file:line:column of `dash`.
out=$("$ctl" validate "$root/tests/data/bad-channels/dash-with-ts.yaml" 2>&1); check "dash with ts" 1 $?
want="$root/tests/data/bad-channels/dash-with-ts.yaml:6:7: dash: needs hls.segment_format: fmp4"
echo "$out" | grep -qF "$want" || { echo "FAIL message: $out"; fail=1; }

exit $fail
