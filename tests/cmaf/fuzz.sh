#!/usr/bin/env bash
# The CMAF box reader's libFuzzer target, bounded:   fuzz.sh [SECONDS]   (default 60)
# Seeds: tests/data/cmaf/ (init and media segments the writer produced for H.264, H.265, AAC).
# A crash fails the run and leaves the input in $BUILD/fuzz/cmaf-crashes/; add it to
# tests/data/cmaf/ once fixed.
set -euo pipefail
src=${IPTV_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
exec "$src/tests/common/libfuzzer.sh" cmaf "${1:-60}" 16384 \
  -- "$src/tests/cmaf/fuzz_reader.cpp" "$src"/core/cmaf/*.cpp "$src"/core/cmaf/*.h \
  -- "$src"/tests/data/cmaf/*
