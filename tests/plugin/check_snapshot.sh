#!/bin/sh
# Fails when the plugin's interface drifts from the committed snapshot.
set -u
dump=$1 snapshot=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$dump" > "$out" || { echo "element_interface failed"; exit 1; }
if ! diff -u "$snapshot" "$out"; then
  echo "The iptv elements' interface differs from $snapshot (diff above)."
  echo "If the change is intended, run scripts/update-element-snapshot and commit the result."
  exit 1
fi
echo "interface matches $snapshot"
