#!/usr/bin/env bash
# Proves the shm driver works as an HDF5 1.14 VFD plugin for programs that
# have never heard of h5tier: after `cmake --install` into a fresh prefix, the
# installed libh5tier_shm_vfd.so (exporting only H5PLget_plugin_type/info) is
# loaded by stock h5py, h5dump and h5ls through HDF5_DRIVER=h5tier_shm +
# HDF5_PLUGIN_PATH (+ HDF5_DRIVER_CONFIG): h5py writes a file that lands in
# the shm object named by the configuration string (no disk file appears),
# h5dump and h5ls read it back by "shm:NAME" (a path only the driver resolves), h5py
# reads the same values, `h5tier shm info` sees an HDF5 image; a bad
# configuration string fails with the driver's message naming the key, and
# without HDF5_PLUGIN_PATH the driver is not found.  Skipped against HDF5
# 1.10 (no VFD plugins) and in sanitizer builds (a plugin built with ASan
# cannot be loaded by the stock tools).
set -euo pipefail
build=${H5TIER_BUILD_DIR:?}
CLI=${H5TIER_CLI:?}
PY=${H5TIER_PYTHON:-/usr/bin/python3}
if grep -q "^H5TIER_SANITIZE:STRING=." "$build/CMakeCache.txt"; then echo "SKIP: sanitizer build"; exit 77; fi
[ -e "$build/plugins/libh5tier_shm_vfd.so" ] || { echo "SKIP: HDF5 older than 1.14 (no VFD plugins)"; exit 77; }
command -v h5dump >/dev/null || { echo "SKIP: h5dump missing"; exit 77; }
"$PY" -c 'import h5py' 2>/dev/null || { echo "SKIP: $PY has no h5py"; exit 77; }

NAME="h5t-plugin-$$"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/h5tier-plugin-XXXXXX")
cleanup() { "$CLI" shm rm --force "$NAME" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
plugin=$(ls "$tmp"/prefix/lib*/h5tier/plugins/libh5tier_shm_vfd.so) || fail "make install put no plugin module under lib/h5tier/plugins"
pdir=$(dirname "$plugin")
syms=$(nm -D --defined-only "$plugin" | awk '$2 == "T" { print $3 }' | sort | tr '\n' ' ')
[ "$syms" = "H5PLget_plugin_info H5PLget_plugin_type " ] || fail "plugin exports more than the two H5PL entry points: $syms"
echo "ok: installed $plugin, exports: $syms"

# h5py, unmodified, writes through the plugin into the shm object of the config.
HDF5_DRIVER=h5tier_shm HDF5_PLUGIN_PATH=$pdir HDF5_DRIVER_CONFIG="name=$NAME, on_close=keep, increment=1MiB" \
  "$PY" - "$tmp/never-on-disk.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["/grid/temp"] = np.arange(12, dtype="<i4").reshape(3, 4) * 7
    f["/grid"].attrs["units"] = "K"
PY
[ ! -e "$tmp/never-on-disk.h5" ] || fail "h5py created a disk file: the driver was not used"
[ -e "/dev/shm/$NAME" ] || fail "no shm object /dev/shm/$NAME after h5py wrote through the plugin"
"$CLI" shm info "$NAME" | grep -qi 'hdf5' || fail "h5tier shm info does not see an HDF5 image in $NAME"
echo "ok: h5py wrote /dev/shm/$NAME through the plugin (no disk file)"

# Stock h5dump and h5ls, name derived from "shm:NAME" (no configuration).  The
# tools fall back to other drivers when an open fails, and sec2 could read
# /dev/shm/NAME itself; "shm:NAME" is a path only our driver resolves.
cd "$tmp"
out=$(HDF5_DRIVER=h5tier_shm HDF5_PLUGIN_PATH=$pdir h5dump -d /grid/temp "shm:$NAME") || fail "h5dump: $out"
grep -q '(2,0): 56, 63, 70, 77' <<<"$out" || fail "h5dump shows other values: $out"
out=$(HDF5_DRIVER=h5tier_shm HDF5_PLUGIN_PATH=$pdir h5ls -r "shm:$NAME") || fail "h5ls: $out"
grep -q '^/grid/temp *Dataset {3, 4}' <<<"$out" || fail "h5ls shows: $out"
echo "ok: stock h5dump and h5ls read it through the plugin"

# h5py reads it back by name from the configuration string.
HDF5_DRIVER=h5tier_shm HDF5_PLUGIN_PATH=$pdir HDF5_DRIVER_CONFIG="name=/$NAME" "$PY" - <<'PY'
import h5py, numpy as np
with h5py.File("ignored-path.h5", "r") as f:
    assert (f["/grid/temp"][...] == np.arange(12).reshape(3, 4) * 7).all()
    assert f["/grid"].attrs["units"] in ("K", b"K")
PY
echo "ok: h5py read the values back through the plugin"

# A bad configuration string: the open fails; h5py's exception (made from the
# innermost HDF5 error, ours) names the key.  (h5dump falls back to other
# drivers and prints only the last one's errors, so only its failure is checked.)
st=0
out=$(HDF5_DRIVER=h5tier_shm HDF5_PLUGIN_PATH=$pdir HDF5_DRIVER_CONFIG="name=$NAME,colour=blue" \
      h5dump -H "shm:$NAME" 2>&1) || st=$?
[ $st -ne 0 ] || fail "h5dump with a bad HDF5_DRIVER_CONFIG succeeded: $out"
st=0
out=$(HDF5_DRIVER=h5tier_shm HDF5_PLUGIN_PATH=$pdir HDF5_DRIVER_CONFIG="name=$NAME,colour=blue" \
  "$PY" -c 'import h5py; h5py.File("x.h5", "r")' 2>&1) || st=$?
[ $st -ne 0 ] || fail "h5py opened a file with a bad HDF5_DRIVER_CONFIG"
grep -q "unknown key 'colour'" <<<"$out" || fail "h5py's error does not name the bad key: $out"
echo "ok: a bad HDF5_DRIVER_CONFIG fails (h5dump, h5py), naming the key: $(tail -1 <<<"$out")"

# Without HDF5_PLUGIN_PATH the driver is not found (it came from our module).
st=0
out=$(HDF5_DRIVER=h5tier_shm HDF5_PLUGIN_PATH=$tmp h5ls "shm:$NAME" 2>&1) || st=$?
[ $st -ne 0 ] || fail "h5ls found the driver without our plugin directory: $out"
echo "ok: no plugin directory, no driver"
echo "PASS"
