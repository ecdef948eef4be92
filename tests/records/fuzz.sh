#!/usr/bin/env bash
# Builds the loader's libFuzzer target with clang (ASan+UBSan) and runs it for a bounded time.
#   fuzz.sh [SECONDS]   (default 60)
# Seeds: channels/, the article fixture, every bad record. A crash fails the run and leaves the
# input in $BUILD/fuzz/records-crashes/; add it to tests/data/fuzz-regressions/ once fixed.
set -euo pipefail
secs=${1:-60}
src=${IPTV_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${IPTV_BUILD_ROOT:-$src/build}
out=$build/fuzz
mkdir -p "$out/records-corpus" "$out/records-crashes"
if ! command -v clang++ >/dev/null; then echo "clang++ missing (package clang)"; exit 77; fi
bin=$out/fuzz_records
deps=$(pkg-config --cflags --libs yaml-cpp glib-2.0)
srcs=("$src/tests/records/fuzz_loader.cpp" "$src"/core/records/*.cpp "$src"/core/util/*.cpp)
newest=$(ls -t "${srcs[@]}" "$0" | head -1)
if [ ! -x "$bin" ] || [ "$newest" -nt "$bin" ]; then
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/core" "${srcs[@]}" $deps -o "$bin"
fi
cp -n "$src"/channels/*.yaml "$src"/tests/data/article/*.yaml "$src"/tests/data/bad-channels/*.yaml \
  "$out/records-corpus/" 2>/dev/null || true
cd "$out/records-crashes"
"$bin" -max_total_time="$secs" -rss_limit_mb=1024 -max_len=4096 -timeout=10 -error_exitcode=1 \
  -print_final_stats=1 "$out/records-corpus" 2>&1 | tail -15
