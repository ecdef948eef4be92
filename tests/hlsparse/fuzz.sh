#!/usr/bin/env bash
# The playlist parser's libFuzzer target, bounded:   fuzz.sh [SECONDS]   (default 60)
# Seeds: tests/data/hlsparse/ (playlists of every kind). A crash fails the run and leaves the
# input in $BUILD/fuzz/hlsparse-crashes/; add it to tests/data/hlsparse/ once fixed.
set -euo pipefail
src=${IPTV_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
exec "$src/tests/common/libfuzzer.sh" hlsparse "${1:-60}" 8192 \
  -- "$src/tests/hlsparse/fuzz_parser.cpp" "$src"/orchestrator/lib/hlsparse/*.cpp \
     "$src"/orchestrator/lib/hlsparse/*.h \
  -- "$src"/tests/data/hlsparse/*
