#!/usr/bin/env bash
# make demo: the main job, the HDF5 ring at work (issue 3): a writer at full
# speed, a live monitor, a lossy consumer and a lossless archiver in separate
# processes, then a check that the archive holds every record exactly once.
# The shm driver demo (writer + readers on one shm HDF5 file) is
# scripts/demo_shm.sh.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/demo_ring.sh" "$build"
