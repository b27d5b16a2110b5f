#!/usr/bin/env bash
# make build-matrix: the builds a user or packager may do, each warning-free
# under -Werror (H5TIER_WERROR=ON): Debug, RelWithDebInfo and Release with
# GCC, and Release with clang (Debian's).  Each build also runs the quick
# tests that prove its binaries work (common layer, C++ headers, shm basics).
# Build trees stay in build-matrix/<name> so reruns are incremental.
#   scripts/build-matrix.sh [name ...]   (default: all four)
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
declare -A cc=([gcc-debug]=gcc [gcc-relwithdebinfo]=gcc [gcc-release]=gcc [clang-release]=clang)
declare -A cxx=([gcc]=g++ [clang]=clang++)
declare -A type=([gcc-debug]=Debug [gcc-relwithdebinfo]=RelWithDebInfo [gcc-release]=Release [clang-release]=Release)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(gcc-debug gcc-relwithdebinfo gcc-release clang-release)
status=0
for n in "${names[@]}"; do
  [ -n "${cc[$n]:-}" ] || { echo "build-matrix: unknown build '$n' (gcc-debug gcc-relwithdebinfo gcc-release clang-release)" >&2; exit 2; }
  c=${cc[$n]}
  command -v "$c" >/dev/null || { echo "build-matrix: $c not installed (scripts/deps.sh installs it)" >&2; status=1; continue; }
  t0=$(date +%s)
  dir=build-matrix/$n
  log=$dir.log
  mkdir -p build-matrix
  if cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="${type[$n]}" -DCMAKE_C_COMPILER="$c" -DCMAKE_CXX_COMPILER="${cxx[$c]}" \
       -DH5TIER_WERROR=ON > "$log" 2>&1 && cmake --build "$dir" -j"$jobs" >> "$log" 2>&1 &&
     (cd "$dir" && ctest -j"$jobs" --output-on-failure -R 'common_layer/|cxx/|shm/test_shm_basic|shm/test_shm_config_string' >> "../$n.log" 2>&1); then
    echo "build-matrix: $n (${type[$n]}, $($c --version | head -1)): built warning-free, quick tests pass ($(( $(date +%s) - t0 )) s)"
  else
    status=1
    grep -E -A5 'warning:|error:|FAIL|Failed' "$log" | head -40
    echo "build-matrix: $n FAILED (log: $log)"
  fi
done
exit $status
