#!/usr/bin/env bash
# make fuzz: build the libFuzzer targets with clang (ASan+UBSan) in
# build-fuzz/ and run each for FUZZ_SECONDS (default 60) on a working copy
# of its seed corpus (tests/fuzz/corpus/<target>/).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# A crash or leak is a finding: its input is copied to
# tests/fuzz/regress/<target>/ (which make test replays from then on) and
# the run fails.  The last line is "fuzz: N targets, E executions, F findings".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
secs=${1:-${FUZZ_SECONDS:-60}}
shift || true
case $secs in ''|*[!0-9]*) echo "fuzz: SECONDS must be a number" >&2; exit 2 ;; esac
bdir=${FUZZ_BUILD:-build-fuzz}
scripts/deps.sh clang libclang-rt-14-dev >/dev/null || exit 2
command -v clang >/dev/null || { echo "fuzz: clang is missing" >&2; exit 2; }
cmake -S . -B "$bdir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DH5TIER_FUZZ=ON \
  -DH5TIER_BUILD_TESTS=OFF -DH5TIER_BUILD_BENCH=OFF >/dev/null || exit 1
cmake --build "$bdir" -j"$(nproc)" >/dev/null || { cmake --build "$bdir" 2>&1 | tail -30; exit 1; }
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$bdir"/fuzz/fuzz_*; do [ -x "$f" ] && targets+=("$(basename "$f")"); done
fi
export H5TIER_SHM_DIR=${H5TIER_SHM_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/h5tier-fuzz-shm-XXXXXX")}
total_exec=0; findings=0; n=0
for t in "${targets[@]}"; do
  bin=$bdir/fuzz/$t
  [ -x "$bin" ] || { echo "fuzz: no target $t" >&2; exit 2; }
  work=$bdir/corpus/$t; crash=$bdir/crashes/$t
  mkdir -p "$work" "$crash"
  rm -f "$crash"/* # earlier findings are in tests/fuzz/regress already
  [ -d tests/fuzz/corpus/$t ] && cp -n tests/fuzz/corpus/$t/* "$work"/ 2>/dev/null
  log=$bdir/$t.log
  ( cd "$crash" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$top/$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$top/$crash/" "$top/$work" ) >"$log" 2>&1
  st=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  total_exec=$((total_exec + execs)); n=$((n + 1))
  found=0
  for c in "$crash"/crash-* "$crash"/leak-* "$crash"/timeout-* "$crash"/oom-*; do
    [ -e "$c" ] || continue
    found=$((found + 1))
    mkdir -p tests/fuzz/regress/$t
    cp "$c" tests/fuzz/regress/$t/
  done
  [ $st -ne 0 ] && [ $found -eq 0 ] && found=1
  findings=$((findings + found))
  printf 'fuzz: %-24s %10s executions in %ss, %d findings%s\n' "$t" "$execs" "$secs" "$found" \
    "$([ $found -gt 0 ] && echo " (see $log; inputs copied to tests/fuzz/regress/$t/)")"
done
echo "fuzz: $n targets, $total_exec executions, $findings findings"
[ "$findings" -eq 0 ]
