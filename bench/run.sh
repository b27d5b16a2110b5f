#!/usr/bin/env bash
# Run every benchmark program side by side with its anchors, collect
# build/bench-results.jsonl and rewrite BENCHMARKS.md (full) or
# build/BENCHMARKS-quick.md (quick).
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
# Only a full run is the record; a quick run's table goes beside its JSONL.
if [ "$mode" = full ]; then md=BENCHMARKS.md; else md="$build/BENCHMARKS-quick.md"; fi
python3 bench/report.py "$out" "$mode" > "$md.new" && mv "$md.new" "$md"
echo "wrote $md and $out"
exit $status
