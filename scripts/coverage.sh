#!/usr/bin/env bash
# make coverage: the whole suite in a --coverage build (build-coverage/,
# Debug, -O0), then line and branch coverage per area of the library
# (src/<area>/) and of the CLI (tools/), measured by gcovr (Debian).  The
# table is printed and written to build-coverage/coverage.txt; the HTML
# report with every line is build-coverage/coverage/index.html.
#   scripts/coverage.sh [ctest args...]
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
b=build-coverage
cmake -S . -B $b -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="--coverage -O0" -DCMAKE_CXX_FLAGS="--coverage -O0" \
  -DCMAKE_EXE_LINKER_FLAGS=--coverage -DCMAKE_SHARED_LINKER_FLAGS=--coverage -DCMAKE_MODULE_LINKER_FLAGS=--coverage \
  -DH5TIER_BUILD_BENCH=OFF -DH5TIER_WERROR=ON >/dev/null || exit 1
cmake --build $b -j"$jobs" > $b/build.log 2>&1 || { tail -30 $b/build.log; exit 1; }
find $b -name '*.gcda' -delete
[ $# -gt 0 ] || set -- --timeout 600 -j"$jobs"
(cd $b && ctest "$@" > ctest.log 2>&1)
rc=$?
tail -3 $b/ctest.log | grep -E 'tests passed' || true
mkdir -p $b/coverage
gcovr -r . --object-directory $b --filter 'src/' --filter 'tools/' --exclude-unreachable-branches \
  --json-summary $b/coverage/summary.json --html-details $b/coverage/index.html -j"$jobs" >/dev/null 2>&1 ||
  { echo "coverage: gcovr failed"; exit 1; }
python3 - $b/coverage/summary.json <<'PY' | tee $b/coverage.txt
import json, sys, collections
s = json.load(open(sys.argv[1]))
agg = collections.OrderedDict()
for f in sorted(s["files"], key=lambda f: f["filename"]):
    parts = f["filename"].split("/")
    area = parts[0] + "/" + parts[1] if parts[0] == "src" else parts[0]
    a = agg.setdefault(area, [0, 0, 0, 0])
    a[0] += f["line_covered"]; a[1] += f["line_total"]
    a[2] += f["branch_covered"]; a[3] += f["branch_total"]
pct = lambda c, t: 100.0 * c / t if t else 100.0
print(f"{'area':<16} {'lines':>16} {'branches':>16}")
tot = [0, 0, 0, 0]
for area, a in agg.items():
    tot = [x + y for x, y in zip(tot, a)]
    print(f"{area:<16} {pct(a[0], a[1]):6.1f}% {a[0]:>5}/{a[1]:<5} {pct(a[2], a[3]):6.1f}% {a[2]:>5}/{a[3]:<5}")
print(f"{'total':<16} {pct(tot[0], tot[1]):6.1f}% {tot[0]:>5}/{tot[1]:<5} {pct(tot[2], tot[3]):6.1f}% {tot[2]:>5}/{tot[3]:<5}")
PY
echo "coverage: report $b/coverage/index.html"
exit $rc
