#!/usr/bin/env bash
# Bounded libFuzzer targets for what the origin, the API and the daemon-worker wire parse:
#   fuzz.sh TARGET [SECONDS]   (default 60)   TARGET: token | origin | api-json | wire
# Seeds: tests/data/fuzz/TARGET/. A crash or a failed invariant fails the run and leaves the
# input in $BUILD/fuzz/TARGET-crashes/; add it to tests/data/fuzz/TARGET/ once fixed.
set -euo pipefail
src=${IPTV_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
target=$1 secs=${2:-60}
seeds=("$src"/tests/data/fuzz/"$target"/*)
case $target in
  token)
    srcs=("$src/tests/fuzz/fuzz_token.cpp" "$src"/core/token/*.cpp "$src"/core/token/*.h
          "$src"/core/util/*.cpp)
    pkgs=(glib-2.0) len=1024 ;;
  origin)
    srcs=("$src/tests/fuzz/fuzz_origin.cpp" "$src"/core/origin/request_path.* \
          "$src"/core/origin/http_conditional.* "$src"/core/util/*.cpp \
          "$src"/core/timeshift/time_arg.*)
    pkgs=(glib-2.0 libsoup-3.0) len=1024 ;;
  api-json)
    srcs=("$src/tests/fuzz/fuzz_api_json.cpp" "$src"/orchestrator/lib/control/strict_json.cpp
          "$src"/orchestrator/lib/control/api_server.h)
    pkgs=(glib-2.0 libsoup-3.0 sqlite3 nlohmann_json) len=4096 ;;
  wire)
    srcs=("$src/tests/fuzz/fuzz_wire.cpp" "$src"/orchestrator/lib/wire/*.cpp
          "$src"/orchestrator/lib/wire/*.h)
    pkgs=(nlohmann_json) len=4096 ;;
  *) echo "unknown target '$target' (token, origin, api-json, wire)" >&2; exit 2 ;;
esac
# shellcheck disable=SC2046
exec "$src/tests/common/libfuzzer.sh" "$target" "$secs" "$len" -- "${srcs[@]}" \
  -- "${seeds[@]}" -- $(pkg-config --cflags --libs "${pkgs[@]}")
