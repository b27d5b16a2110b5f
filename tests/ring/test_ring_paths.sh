#!/usr/bin/env bash
# Proves that a ring and its archive keep the user's own schema, paths
# included: `ring create --like F:/entry/daq/events` makes the stream at
# /entry/daq/events with the attributes of its groups; `--like-file T.h5`
# turns a whole NeXus-style template into a ring (every dataset with an
# unlimited first dimension is a stream at its own path; groups, their
# attributes and the fixed calibration dataset are copied), `--select`
# picks streams; the archive of that ring is read by THE SAME h5py function
# that reads a file written directly in the template's layout (same paths,
# types, attributes, calibration), with the archiver's bookkeeping under
# /.h5tier (seq == arange, no lost range) and nothing else added to the
# user's namespace.  A format-1 archive (PATH_seq next to PATH, made here by
# moving the links back) is refused with a message naming `--convert`;
# `ring archive --convert` moves the bookkeeping and archiving continues
# with no duplicate.  Bad paths (/.h5tier/x, a//b) are refused (exit 1).
set -uo pipefail
cli=${H5TIER_CLI:?}
py=${H5TIER_PYTHON:-/usr/bin/python3}
"$cli" ring create --help >/dev/null 2>&1 || { echo "ring CLI not available"; exit 77; }
"$py" -c 'import h5py' 2>/dev/null || { echo "no h5py"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/h5tier-paths-XXXXXX")
name="h5t-paths-$$"
cleanup() {
  for s in a b c d; do "$cli" ring rm "$name-$s" --force >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# the template, and a file written directly in its layout; analyse() is the user's code
cat >"$tmp/user.py" <<'EOF'
import h5py, numpy as np
EV = np.dtype([("seq", "<u8"), ("e", "<f8"), ("chk", "<u8")])
def make_template(path, n=0):
    with h5py.File(path, "w") as f:
        f.attrs["facility"] = "test-beamline"
        e = f.create_group("entry"); e.attrs["NX_class"] = "NXentry"
        d = e.create_group("daq"); d.attrs["NX_class"] = "NXcollection"
        ev = d.create_dataset("events", (n,), maxshape=(None,), dtype=EV, chunks=(64,))
        ev.attrs["units"] = "keV"
        if n:
            ev["seq"] = np.arange(n)
        im = e.create_dataset("det/img", (n, 4, 4), maxshape=(None, 4, 4), dtype="<u2", chunks=(1, 4, 4))
        im.attrs["pixel_um"] = 75.0
        g = e.create_dataset("calib/gain", data=np.linspace(1, 2, 16))
        g.attrs["unit"] = "adu/keV"
        e.create_dataset("calib/fixed_log", (2,), maxshape=(2,), dtype="<i4", data=[7, 8])
def analyse(f):
    """the analysis code written for the user's files: paths, types, attributes, calibration"""
    assert f.attrs["facility"] == "test-beamline", dict(f.attrs)
    assert f["/entry"].attrs["NX_class"] == "NXentry" and f["/entry/daq"].attrs["NX_class"] == "NXcollection"
    ev = f["/entry/daq/events"]
    assert ev.dtype == EV and ev.attrs["units"] == "keV" and ev.maxshape == (None,), (ev.dtype, dict(ev.attrs))
    assert f["/entry/det/img"].dtype == np.dtype("<u2") and f["/entry/det/img"].shape[1:] == (4, 4)
    assert f["/entry/det/img"].attrs["pixel_um"] == 75.0
    gain = f["/entry/calib/gain"]
    assert np.allclose(gain[:], np.linspace(1, 2, 16)) and gain.attrs["unit"] == "adu/keV"
    assert list(f["/entry/calib/fixed_log"][:]) == [7, 8]
    return len(ev), list(ev["seq"][:5])
EOF
"$py" -c "
import sys; sys.path.insert(0, '$tmp'); import user
user.make_template('$tmp/template.h5')
user.make_template('$tmp/direct.h5', 100)
import h5py; print(user.analyse(h5py.File('$tmp/direct.h5', 'r')))
" >"$tmp/out" 2>&1 || fail "template: $(cat "$tmp/out")"

# 1. --like keeps the path and the groups' attributes
"$cli" ring create "$name-a" --like "$tmp/template.h5:/entry/daq/events" --capacity 64 >"$tmp/out" 2>&1 \
  || fail "create --like: $(cat "$tmp/out")"
grep -q "stream 'entry/daq/events'" "$tmp/out" || fail "stream name: $(cat "$tmp/out")"
"$py" -c "
import h5py
f = h5py.File('/dev/shm/$name-a', 'r')
ev = f['/entry/daq/events']
assert ev.shape == (64,) and ev.attrs['units'] == 'keV'
assert f['/entry'].attrs['NX_class'] == 'NXentry' and f['/entry/daq'].attrs['NX_class'] == 'NXcollection'
assert f.attrs['facility'] == 'test-beamline'
assert 'calib' not in f['/entry'], 'only the dataset and its groups come with --like'
" >"$tmp/out" 2>&1 || fail "--like ring: $(cat "$tmp/out")"
"$cli" ring write "$name-a" --stream /entry/daq/events --count 10 >/dev/null 2>&1 || fail "write by path"
"$cli" ring tail "$name-a" --stream entry/daq/events --count 10 --verify --json >"$tmp/tail" 2>&1 \
  || fail "tail by path: $(cat "$tmp/tail")"

# 2. the whole template; the archive read by the user's code
"$cli" ring create "$name-b" --like-file "$tmp/template.h5" --capacity 256 >"$tmp/out" 2>&1 \
  || fail "create --like-file: $(cat "$tmp/out")"
grep -q "stream 'entry/daq/events'" "$tmp/out" && grep -q "stream 'entry/det/img'" "$tmp/out" \
  && [ "$(grep -c stream "$tmp/out")" = 2 ] || fail "streams of the template: $(cat "$tmp/out")"
"$cli" ring write "$name-b" --stream /entry/daq/events --count 100 >/dev/null 2>&1 || fail "write events"
"$cli" ring write "$name-b" --stream /entry/det/img --count 30 >/dev/null 2>&1 || fail "write img"
out=$("$cli" ring archive "$name-b" "$tmp/arch.h5" --count 130 --timeout 5 -q 2>&1) || fail "archive: $out"
"$py" -c "
import sys; sys.path.insert(0, '$tmp'); import user, h5py, numpy as np
f = h5py.File('$tmp/arch.h5', 'r')
n, first = user.analyse(f)                  # the same code as for direct.h5
assert n == 100 and first == [0, 1, 2, 3, 4], (n, first)
assert (f['/.h5tier/entry/daq/events/seq'][:] == np.arange(100)).all()
assert (f['/.h5tier/entry/det/img/seq'][:] == np.arange(30)).all()
assert len(f['/.h5tier/entry/daq/events/lost']) == 0
assert f['/.h5tier'].attrs['h5tier_archive_format'] == 2
user_names = set()
f.visit(lambda p: user_names.add(p) if not p.startswith('.h5tier') else None)
want = {'entry', 'entry/daq', 'entry/daq/events', 'entry/det', 'entry/det/img', 'entry/calib',
        'entry/calib/gain', 'entry/calib/fixed_log'}
assert user_names == want, sorted(user_names ^ want)
assert set(f.attrs) == {'facility'}, dict(f.attrs)
# the ring itself, read the same way (same paths, a ring-sized first dimension)
r = h5py.File('/dev/shm/$name-b', 'r')
assert r['/entry/daq/events'].shape == (256,) and list(r['/entry/calib/gain'].attrs) == ['unit']
" >"$tmp/out" 2>&1 || fail "archive read by the user's code: $(cat "$tmp/out")"

# 3. --select
"$cli" ring create "$name-c" --like-file "$tmp/template.h5" --select /entry/det/img --capacity 8 >"$tmp/out" 2>&1 \
  || fail "--select: $(cat "$tmp/out")"
[ "$(grep -c stream "$tmp/out")" = 1 ] && grep -q "entry/det/img" "$tmp/out" || fail "--select: $(cat "$tmp/out")"
"$py" -c "
import h5py
f = h5py.File('/dev/shm/$name-c', 'r')
assert f['/entry/daq/events'].shape == (0,), 'not selected: copied as it is'
assert f['/entry/det/img'].shape == (8, 4, 4)
" >"$tmp/out" 2>&1 || fail "--select content: $(cat "$tmp/out")"

# 4. a format-1 archive: refused with the way out, converted, continued
"$py" -c "
import h5py
f = h5py.File('$tmp/arch.h5', 'r+')
for p in ('entry/daq/events', 'entry/det/img'):
    f.move('/.h5tier/' + p + '/seq', '/' + p + '_seq')
    f.move('/.h5tier/' + p + '/lost', '/' + p + '_lost')
f.attrs['h5tier_archiver'] = f['/.h5tier'].attrs['h5tier_archiver']
del f['/.h5tier']
" >"$tmp/out" 2>&1 || fail "make format 1: $(cat "$tmp/out")"
"$cli" ring write "$name-b" --stream /entry/daq/events --count 20 >/dev/null 2>&1 || fail "write more"
out=$("$cli" ring archive "$name-b" "$tmp/arch.h5" --count 20 --timeout 2 -q 2>&1); st=$?
[ $st = 1 ] && echo "$out" | grep -q -- "--convert" || fail "old archive not refused with a hint ($st): $out"
out=$("$cli" ring archive --convert "$tmp/arch.h5" 2>&1) && echo "$out" | grep -q "2 streams moved" \
  || fail "convert: $out"
out=$("$cli" ring archive "$name-b" "$tmp/arch.h5" --count 20 --timeout 5 -q 2>&1) || fail "after convert: $out"
"$py" -c "
import h5py, numpy as np
f = h5py.File('$tmp/arch.h5', 'r')
assert (f['/.h5tier/entry/daq/events/seq'][:] == np.arange(120)).all(), f['/.h5tier/entry/daq/events/seq'][:]
assert (f['/entry/daq/events']['seq'][:] == np.arange(120)).all()
assert 'entry/daq/events_seq' not in f and 'h5tier_archiver' not in f.attrs
" >"$tmp/out" 2>&1 || fail "converted archive: $(cat "$tmp/out")"

# 5. bad paths
for bad in /.h5tier/x a//b /a/ ; do
  out=$("$cli" ring create "$name-d" --stream "$bad" --dtype u8 --capacity 8 2>&1); st=$?
  [ $st = 1 ] && echo "$out" | grep -q "stream name" || fail "bad path '$bad' ($st): $out"
done
echo "ok"
