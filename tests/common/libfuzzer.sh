#!/usr/bin/env bash
# Builds one libFuzzer target with clang (ASan+UBSan) when a source is newer than the binary,
# seeds its corpus, and runs it for a bounded time. A crash fails the run (exit 1) and leaves the
# input in $BUILD/fuzz/NAME-crashes/. Without clang++ it exits 77 (a meson skip).
#   libfuzzer.sh NAME SECONDS MAX_LEN -- SOURCE... -- SEED... [-- LINK-FLAGS...]
set -euo pipefail
name=$1 secs=$2 max_len=$3
shift 3
[ "${1:-}" = "--" ] && shift
srcs=() seeds=() flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do srcs+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
while [ $# -gt 0 ] && [ "$1" != "--" ]; do seeds+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
flags=("$@")
src=${IPTV_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${IPTV_BUILD_ROOT:-$src/build}
out=$build/fuzz
mkdir -p "$out/$name-corpus" "$out/$name-crashes"
if ! command -v clang++ >/dev/null; then echo "clang++ missing (package clang)"; exit 77; fi
bin=$out/fuzz_$name
newest=$(ls -t "${srcs[@]}" "$0" | head -1)
if [ ! -x "$bin" ] || [ "$newest" -nt "$bin" ]; then
  cpps=()
  for f in "${srcs[@]}"; do [[ $f == *.cpp ]] && cpps+=("$f"); done
  clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/core" -I"$src/orchestrator/lib" "${cpps[@]}" "${flags[@]}" -o "$bin"
fi
cp -n "${seeds[@]}" "$out/$name-corpus/" 2>/dev/null || true
cd "$out/$name-crashes"
"$bin" -max_total_time="$secs" -rss_limit_mb=1024 -max_len="$max_len" -timeout=10 \
  -error_exitcode=1 -print_final_stats=1 "$out/$name-corpus" 2>&1 | tee "$out/$name.log" | tail -15
# Coverage at the start (seeds) and at the end: edges (cov) and features (ft).
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$out/$name.log" || true
