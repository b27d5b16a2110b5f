#!/bin/bash
# test_python -- runs the pytest suite of the h5tier Python package
# (tests/python/test_*.py) against the library and CLI of this build: the
# reader following C writers in other processes, the writer read by the C
# reader, dtype round trips, shm_file with SWMR, persist checked by h5diff,
# errors, `h5tier top`.  Fails when pytest collects no test.
set -u
PY=${H5TIER_PYTHON:-/usr/bin/python3}
SRC=${H5TIER_SRC_DIR:?}
"$PY" -c 'import pytest, numpy, h5py' 2>/dev/null || { echo "SKIP: $PY lacks pytest, numpy or h5py (scripts/deps.sh installs them)"; exit 77; }
BUILD=${H5TIER_BUILD_DIR:-$SRC/build}
CLI=${H5TIER_CLI:-$BUILD/h5tier}
# h5tier top on its own first, with the environment as given (under ASan: leak-checked)
"$CLI" top --once --json --interval 0.1 > /dev/null || { echo "FAIL: h5tier top --once --json"; exit 1; }
# A sanitizer build (make test-asan): Python must load the ASan runtime first;
# CPython's own allocations are not leak-checked.
if ldd "$BUILD/libh5tier.so" 2>/dev/null | grep -q libasan; then
  export LD_PRELOAD="$(${CC:-gcc} -print-file-name=libasan.so)${LD_PRELOAD:+ $LD_PRELOAD}"
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
export PYTHONPATH="$SRC/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
cd "$SRC/tests/python" || exit 1
"$PY" -m pytest -q -p no:cacheprovider "$SRC/tests/python" "$@"
rc=$?
if [ $rc = 5 ]; then echo "FAIL: pytest collected no tests"; exit 1; fi
exit $rc
