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
export PYTHONPATH="$SRC/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
cd "$SRC/tests/python" || exit 1
"$PY" -m pytest -q -p no:cacheprovider "$SRC/tests/python" "$@"
rc=$?
if [ $rc = 5 ]; then echo "FAIL: pytest collected no tests"; exit 1; fi
exit $rc
