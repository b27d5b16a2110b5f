#!/usr/bin/env bash
# Run every benchmark program side by side with its anchors, collect
# build/bench-results.jsonl and rewrite BENCHMARKS.md.
#   bench/run.sh quick|full [BUILD_DIR]
set -euo pipefail
mode=${1:-full}
build=${2:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out="$build/bench-results.jsonl"
: > "$out"
export H5TIER_BENCH_JSONL="$top/$out"
[ "$mode" = quick ] && export H5TIER_BENCH_QUICK=1
shopt -s nullglob
status=0
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b") ($mode)"
  if ! "$b"; then echo "benchmark $(basename "$b") failed" >&2; status=1; fi
done
python3 bench/report.py "$out" "$mode" > BENCHMARKS.md.new && mv BENCHMARKS.md.new BENCHMARKS.md
echo "wrote BENCHMARKS.md and $out"
exit $status
