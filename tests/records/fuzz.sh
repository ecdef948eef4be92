#!/usr/bin/env bash
# The loader's libFuzzer target, bounded:   fuzz.sh [SECONDS]   (default 60)
# Seeds: channels/, the article fixture, every bad record. A crash fails the run and leaves the
# input in $BUILD/fuzz/records-crashes/; add it to tests/data/fuzz-regressions/ once fixed.
set -euo pipefail
src=${IPTV_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck disable=SC2046
exec "$src/tests/common/libfuzzer.sh" records "${1:-60}" 4096 \
  -- "$src/tests/records/fuzz_loader.cpp" "$src"/orchestrator/lib/records/*.cpp \
     "$src"/orchestrator/lib/records/*.h "$src"/core/profiles/*.cpp "$src"/core/util/*.cpp \
  -- "$src"/channels/*.yaml "$src"/tests/data/article/*.yaml "$src"/tests/data/bad-channels/*.yaml \
  -- $(pkg-config --cflags --libs yaml-cpp glib-2.0)
