#!/usr/bin/env bash
# make fuzz: build the libFuzzer targets (tests/fuzz/fuzz_*.c) with Debian's
# clang under ASan+UBSan in build-fuzz/, and run each for FUZZ_SECONDS
# (default 60) from its seed corpus (tests/fuzz/corpus/<target>, copied to
# build-fuzz/corpus/<target>, which grows across runs).  Prints executions
# and findings per target; a crash input is saved as
# build-fuzz/crashes/<target>/crash-*: copy it to tests/fuzz/regress/<target>/
# (ctest fuzz/replay_<target> then replays it in every build) and fix the bug.
#   scripts/fuzz.sh [target ...]     FUZZ_SECONDS=N  FUZZ_JOBS=N (parallel targets)
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
b=build-fuzz
cmake -S . -B $b -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DH5TIER_FUZZ=ON -DH5TIER_SANITIZE=address,undefined -DH5TIER_BUILD_BENCH=OFF -DH5TIER_WERROR=ON >/dev/null || exit 1
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do t=${f##*/fuzz_}; targets+=("${t%.c}"); done
fi
cmake --build $b -j"$jobs" --target $(printf 'fuzz_%s ' "${targets[@]}") > $b/fuzz-build.log 2>&1 ||
  { grep -E -A5 'error|warning' $b/fuzz-build.log | head -40; echo "fuzz: build failed"; exit 1; }
status=0
for t in "${targets[@]}"; do
  mkdir -p $b/corpus/$t $b/crashes/$t
  cp -n tests/fuzz/corpus/$t/* $b/corpus/$t/ 2>/dev/null || true
  log=$b/fuzz-$t.log
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
    $b/tests/fuzz_$t -max_total_time="$secs" -print_final_stats=1 -max_len=65536 -timeout=20 \
      -artifact_prefix=$b/crashes/$t/ $b/corpus/$t > "$log" 2>&1
  rc=$?
  execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  found=$(ls $b/crashes/$t | wc -l)
  if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then
    status=1
    echo "fuzz $t: FAILED after ${execs:-?} executions ($found inputs in $b/crashes/$t; log $log)"
    grep -E -m5 'ERROR|invariant failed|SUMMARY' "$log"
  else
    echo "fuzz $t: ${execs:-?} executions in ${secs} s, ${cov:-cov ?}, corpus $(ls $b/corpus/$t | wc -l) inputs, no findings"
  fi
done
exit $status
