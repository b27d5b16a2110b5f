"""Proves every kind the --dtype grammar allows (i1..i8, u1..u8, f4, f8, each
in both byte orders; record shapes; compounds with array members; nested
compounds; top-level field lists) maps to the right numpy dtype in Python,
that numpy dtypes map back to the same grammar, and that values written by
Python come back bit-exact through the Python reader and the C reader."""
import json

import numpy as np
import pytest

import h5tier
from conftest import cli

BASES = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8"]
CASES = [(b, np.dtype("<" + b), ()) for b in BASES] + \
        [(">" + b, np.dtype(">" + b), ()) for b in BASES] + [
    ("f4[4]", np.dtype("<f4"), (4,)),
    ("u2[3,5]", np.dtype("<u2"), (3, 5)),
    (">i4[2,2,2]", np.dtype(">i4"), (2, 2, 2)),
    ("{seq:u8,ts:f8,adc:u2[16]}", np.dtype([("seq", "<u8"), ("ts", "<f8"), ("adc", "<u2", (16,))]), ()),
    ("{a:>i2,b:{x:f4,y:u1[2,3]},c:i8}",
     np.dtype([("a", ">i2"), ("b", [("x", "<f4"), ("y", "u1", (2, 3))]), ("c", "<i8")]), ()),
    ("{e:f8,m:i1[2]}[3]", np.dtype([("e", "<f8"), ("m", "i1", (2,))]), (3,)),
    ("u8,f4[4]", np.dtype([("f0", "<u8"), ("f1", "<f4", (4,))]), ()),
]


def random_records(dt, shape, n, rng):
    raw = rng.integers(0, 256, size=n * int(np.prod(shape, dtype=int)) * dt.itemsize, dtype=np.uint8)
    arr = raw.view(dt).reshape((n,) + shape)
    # floats: avoid NaN payloads (NaN != NaN) by drawing finite values
    def fix(a, d):
        if d.names:
            for k in d.names:
                fix(a[k], d.fields[k][0])
        elif d.subdtype is not None:
            fix(a, d.subdtype[0])
        elif d.kind == "f":
            a[...] = rng.normal(size=a.shape) * 1000
    fix(arr, dt)
    return arr


def as_json(a):
    if a.dtype.names:
        return {k: as_json(a[k]) for k in a.dtype.names}
    return a.tolist()


@pytest.mark.parametrize("spec,dtype,shape", CASES, ids=[c[0] for c in CASES])
def test_dtype_round_trip(shm_name, spec, dtype, shape):
    name = shm_name()
    cli("ring", "create", name, "--dtype", spec, "--capacity", "64")
    ring = h5tier.Ring(name)
    st = ring["data"]
    assert st.dtype == dtype, (st.dtype, dtype)
    assert st.shape == shape
    assert st.record_size == dtype.itemsize * int(np.prod(shape, dtype=int))
    assert st.record_dtype.itemsize == st.record_size
    # numpy dtype -> grammar -> the same numpy dtype (a second ring made from Python)
    name2 = shm_name()
    ring2 = h5tier.create(name2, {"data": (np.dtype((dtype, shape)) if shape else dtype, 64)})
    assert ring2["data"].dtype == dtype and ring2["data"].shape == shape
    # values: Python writer -> Python reader and C reader, bit-exact
    rng = np.random.default_rng(7)
    recs = random_records(dtype, shape, 20, rng)
    with ring.writer() as w:
        w.put_many(None, recs)
    with ring.reader(start="oldest", timeout=0) as rd:
        back = rd.read()
    assert back.dtype == dtype and back.shape == (20,) + shape
    assert back.tobytes() == recs.tobytes()
    out = cli("ring", "tail", name, "--json", "--count", "20", "--timeout", "2", "--max-elems", "1000").stdout
    rows = [json.loads(l)["data"] for l in out.splitlines()]
    assert len(rows) == 20
    for k in range(20):
        if not shape:
            want = as_json(recs[k])
        elif dtype.names:   # a record with a shape prints as a flat list of elements
            want = [as_json(x) for x in np.asarray(recs[k]).ravel()]
        else:
            want = np.asarray(recs[k]).ravel().tolist()
        assert _eq(rows[k], want), (k, rows[k], want)


def _eq(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)
    if isinstance(a, list):
        if not isinstance(b[0] if b else None, dict):
            b = np.asarray(b).ravel().tolist()
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))
    return a == pytest.approx(b)


def test_dtypes_the_grammar_cannot_express_are_refused(shm_name):
    for bad in ["f2", "c8", "S4", "O", np.dtype([("a", "u1"), ("b", "<u4")], align=True)]:
        with pytest.raises(TypeError):
            h5tier.dtype_spec(bad)
    with pytest.raises(h5tier.Error) as ei:
        h5tier.create(shm_name(), {"data": ("u3", 64)})
    assert "type spec 'u3'" in str(ei.value) and ei.value.errno == 22
    with pytest.raises(h5tier.Error) as ei:
        h5tier.create(shm_name(), {"data": ("u8", 100)})
    assert "not a power of two" in str(ei.value)
