#!/usr/bin/env bash
# Builds the playlist parser's libFuzzer target with clang (ASan+UBSan) and runs it for a bounded
# time.   fuzz.sh [SECONDS]   (default 60)
# Seeds: tests/data/hlsparse/ (playlists of every kind). A crash fails the run and leaves the
# input in $BUILD/fuzz/hlsparse-crashes/; add it to tests/data/hlsparse/ once fixed.
set -euo pipefail
secs=${1:-60}
src=${IPTV_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${IPTV_BUILD_ROOT:-$src/build}
out=$build/fuzz
mkdir -p "$out/hlsparse-corpus" "$out/hlsparse-crashes"
if ! command -v clang++ >/dev/null; then echo "clang++ missing (package clang)"; exit 77; fi
bin=$out/fuzz_hlsparse
srcs=("$src/tests/hlsparse/fuzz_parser.cpp" "$src"/core/hlsparse/*.cpp)
newest=$(ls -t "${srcs[@]}" "$src"/core/hlsparse/*.h "$0" | head -1)
if [ ! -x "$bin" ] || [ "$newest" -nt "$bin" ]; then
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/core" "${srcs[@]}" -o "$bin"
fi
cp -n "$src"/tests/data/hlsparse/* "$out/hlsparse-corpus/" 2>/dev/null || true
cd "$out/hlsparse-crashes"
"$bin" -max_total_time="$secs" -rss_limit_mb=1024 -max_len=8192 -timeout=10 \
  -error_exitcode=1 -print_final_stats=1 "$out/hlsparse-corpus" 2>&1 | tail -15
