#!/usr/bin/python3
"""Corpus for the persist round-trip test (run with /usr/bin/python3, h5py).

    corpus.py make DIR        write DIR/corpus.h5 (+ DIR/ext.h5, DIR/sparse.h5,
                              DIR/regref.h5, DIR/danglingref.h5)
    corpus.py check SRC DST   compare a persisted DST with SRC beyond h5diff:
                              exact file types (H5Tequal, byte order included)
                              of datasets and attributes, named types shared,
                              hard links shared, soft/external links kept,
                              references remapped, fill values kept
    corpus.py layouts DST     print "path layout chunk maxshape compression"
    corpus.py sparse DST      check the huge sparse dataset reads identically
"""
import os
import sys

import h5py
import numpy as np


def make(d):
    rng = np.random.default_rng(7)
    ext = os.path.join(d, "ext.h5")
    with h5py.File(ext, "w") as e:
        e["target"] = np.arange(4)
    with h5py.File(os.path.join(d, "corpus.h5"), "w") as f:
        # ---- integer and float sizes, both byte orders, 0-d to 4-d --------
        t = f.create_group("types")
        for code in ["i1", "u1", "<i2", ">i2", "<u2", ">u4", "<i4", ">i4", "<i8", ">u8",
                     "<f2", "<f4", ">f4", "<f8", ">f8"]:
            name = code.replace("<", "le_").replace(">", "be_")
            t.create_dataset(name, data=(rng.random(50) * 100).astype(code),
                             chunks=(1024,), maxshape=(None,))
        dims = f.create_group("dims")
        dims["scalar"] = np.float64(3.25)
        dims.create_dataset("d1", data=np.arange(7, dtype="i4"))
        dims.create_dataset("d2", data=np.arange(12, dtype="<u2").reshape(3, 4))
        dims.create_dataset("d3", data=np.arange(24, dtype=">f4").reshape(2, 3, 4))
        dims.create_dataset("d4", data=np.arange(120, dtype="i8").reshape(2, 3, 4, 5),
                            chunks=(8, 8, 8, 8), maxshape=(None,) * 4)
        dims.create_dataset("empty1", shape=(0,), dtype="f8", maxshape=(None,), chunks=(4096,))
        dims.create_dataset("empty2", shape=(5, 0), dtype="i4")
        dims.create_dataset("null", data=h5py.Empty("f4"))
        # ---- strings, compound, enum, array, vlen ---------------------------
        s = f.create_group("strings")
        s.create_dataset("fixed", data=np.array([b"alpha", b"be", b"gamma!"], dtype="S8"))
        s.create_dataset("vlen_utf8", data=["eins", "zwei", "drei \u00e9\u00e8", ""],
                         dtype=h5py.string_dtype("utf-8"))
        s.create_dataset("vlen_ascii", data=[b"a", b"bb" * 50, b"ccc"],
                         dtype=h5py.string_dtype("ascii"), chunks=(2,), maxshape=(None,))
        c = f.create_group("compound")
        ct = np.dtype([("id", "<u4"), ("x", ">f8"), ("tag", "S3"), ("v", "<i2", (3,))])
        arr = np.zeros(10, dtype=ct)
        arr["id"] = np.arange(10)
        arr["x"] = np.linspace(0, 1, 10)
        arr["tag"] = b"ab"
        arr["v"] = np.arange(30).reshape(10, 3)
        c.create_dataset("rows", data=arr)
        et = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 42}, basetype="i1")
        c.create_dataset("enum", data=np.array([0, 1, 42, 1], dtype="i1"), dtype=et)
        at = h5py.h5t.array_create(h5py.h5t.STD_I16BE, (2, 3))
        sp = h5py.h5s.create_simple((4,))
        ds = h5py.h5d.create(c.id, b"array", at, sp)
        ds.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(24, dtype=">i2").reshape(4, 2, 3), mtype=at)
        vt = h5py.vlen_dtype(np.dtype("<i4"))
        v = c.create_dataset("vlen_seq", (4,), dtype=vt, chunks=(2,), maxshape=(None,))
        for i in range(4):
            v[i] = np.arange(i * 3, dtype="<i4")
        vc = np.dtype([("n", "u1"), ("s", h5py.string_dtype())])
        c.create_dataset("compound_vlen", data=np.array([(1, "one"), (2, "two")], dtype=vc))
        # ---- named types ------------------------------------------------------
        f["named/point"] = np.dtype([("x", "<f4"), ("y", "<f4")])
        f["named/be32"] = np.dtype(">i4")
        pts = f.create_dataset("named/points", (3,), dtype=f["named/point"])
        pts[...] = np.array([(1, 2), (3, 4), (5, 6)], dtype=pts.dtype)
        f["named/point"].attrs["unit"] = "m"
        f.create_dataset("named/uses_be32", data=np.arange(5), dtype=f["named/be32"])
        # ---- fill values ----------------------------------------------------
        fv = f.create_group("fill")
        a = fv.create_dataset("partial", (100, 10), dtype="<i4", fillvalue=-7,
                              chunks=(1000, 1000), maxshape=(None, None))
        a[3:5, :] = 1
        fv.create_dataset("untouched_f8", (20,), dtype="f8", fillvalue=np.nan)
        # ---- sizes that pick each layout -----------------------------------
        lay = f.create_group("layout")
        lay.create_dataset("small_chunked", data=np.arange(1000, dtype="f8"),
                           chunks=(100000,), maxshape=(None,))           # 8000 B: compact
        lay.create_dataset("mid", data=rng.integers(0, 1000, (400, 300), dtype="i4"),
                           chunks=(1, 1), maxshape=(None, 300))            # 480 KB: contiguous
        lay.create_dataset("wide", data=rng.random((3, 70000)).astype("f4"))  # rows > chunk size
        lay.create_dataset("edge", data=np.arange(14999, dtype="<i4"))    # 59996 B: compact
        lay.create_dataset("edge2", data=np.arange(15000, dtype="<i4"))   # 60000 B: contiguous
        lay.create_dataset("gz", data=np.repeat(np.arange(100, dtype="i4"), 1000),
                           compression="gzip", chunks=(77,))
        # ---- sparse but modest (h5diff can read it) --------------------------
        sp = f.create_dataset("sparse/modest", (4000, 4000), dtype="<i4", chunks=(100, 100),
                              maxshape=(None, None), fillvalue=3)
        sp[0:10, 0:10] = 9
        sp[3999, 3999] = 5
        sp[2000:2150, 1234] = np.arange(150)
        # 10000 of 40000 small chunks allocated: found by walking the chunk grid
        gr = f.create_dataset("sparse/grid", (2000, 2000), dtype="<i4", chunks=(10, 10), fillvalue=0)
        gr[0:2000:40, :] = np.arange(2000, dtype="<i4")
        # ---- attributes of every kind on groups, datasets, named types ------
        g = f.create_group("attrs")
        f.attrs["root_attr"] = np.int64(-1)
        g.attrs["i8"] = np.int8(-5)
        g.attrs["be_u4"] = np.array([1, 2, 3], dtype=">u4")
        g.attrs["f2d"] = np.arange(6, dtype="<f8").reshape(2, 3)
        g.attrs["fixed"] = np.bytes_(b"fixed-len")
        g.attrs["vstr"] = "variable \u00fc"
        g.attrs["vstr_list"] = ["a", "bb", "ccc"]
        g.attrs["compound"] = arr[:2]
        g.attrs["enum"] = np.array([42], dtype="i1").astype(et)
        g.attrs.create("vlen_seq", [np.arange(2, dtype="i4"), np.arange(5, dtype="i4")], dtype=vt)
        g.attrs["empty"] = h5py.Empty("i4")
        g.attrs.create("named_typed", np.array([(7, 8)], dtype=f["named/point"].dtype),
                       dtype=f["named/point"])
        at2 = h5py.h5a.create(g.id, b"array", at, h5py.h5s.create(h5py.h5s.SCALAR))
        at2.write(np.arange(6, dtype=">i2").reshape(2, 3), mtype=at)
        dims["d3"].attrs["units"] = "K"
        dims["d3"].attrs["scale"] = np.float32(0.5)
        # ---- links --------------------------------------------------------------
        f["links/soft"] = h5py.SoftLink("/dims/d1")
        f["links/dangling"] = h5py.SoftLink("/nowhere")
        f["links/ext"] = h5py.ExternalLink("ext.h5", "/target")
        f["links/hard_to_d2"] = dims["d2"]
        f["links/hard_group"] = f["strings"]
        # ---- object references -------------------------------------------------
        r = f.create_group("refs")
        rd = r.create_dataset("objrefs", (4,), dtype=h5py.ref_dtype)
        rd[0] = f["dims/d2"].ref
        rd[1] = f["strings"].ref
        rd[2] = f["named/point"].ref
        rd[3] = f["links/hard_to_d2"].ref
        r.attrs.create("aref", f["dims/d1"].ref, dtype=h5py.ref_dtype)
        # a dataset attribute referring to a dataset persisted after it
        f["dims/d1"].attrs.create("ref_to_later", f["dims/scalar"].ref, dtype=h5py.ref_dtype)
        r.create_dataset("scalar_ref", data=f["fill/partial"].ref, dtype=h5py.ref_dtype)
        r.create_dataset("null_refs", (2,), dtype=h5py.ref_dtype)
    # ---- huge but sparse: 10^6 x 10^6 int32 (4 TB logical) --------------------
    with h5py.File(os.path.join(d, "sparse.h5"), "w") as f:
        h = f.create_dataset("huge", (10**6, 10**6), dtype="<i4", chunks=(256, 256),
                             maxshape=(None, None), fillvalue=-1)
        h[0, 0] = 1
        h[500000:500010, 777777] = np.arange(10)
        h[999999, 999999] = 2
        f.create_dataset("small", data=np.arange(3))
    # ---- unsupported: region references ----------------------------------------
    with h5py.File(os.path.join(d, "regref.h5"), "w") as f:
        x = f.create_dataset("x", data=np.arange(10))
        rr = f.create_dataset("regions", (1,), dtype=h5py.regionref_dtype)
        rr[0] = x.regionref[2:5]
        f["fine"] = np.arange(3)
    # ---- a reference whose target is not persisted -----------------------------
    with h5py.File(os.path.join(d, "danglingref.h5"), "w") as f:
        f["keep/data"] = np.arange(3)
        f["other/target"] = np.arange(2)
        rd = f["keep"].create_dataset("pointer", (1,), dtype=h5py.ref_dtype)
        rd[0] = f["other/target"].ref


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def items(f):
    out = []
    f.visititems(lambda n, o: out.append((n, o)))
    return out


def check(src, dst):
    s = h5py.File(src, "r")
    d = h5py.File(dst, "r")
    n = 0
    for name, o in items(s):
        lk = s.get(name, getlink=True)
        if name not in d:
            fail(f"{name} missing")
        t = d[name]
        if isinstance(o, h5py.Dataset):
            if o.id.get_type() != t.id.get_type():
                fail(f"{name}: file type differs: {o.dtype} vs {t.dtype}")
            if o.shape != t.shape:
                fail(f"{name}: shape {o.shape} vs {t.shape}")
            if o.dtype.kind != "O" and np.asarray(o.fillvalue).tobytes() != np.asarray(t.fillvalue).tobytes():
                fail(f"{name}: fill value {o.fillvalue} vs {t.fillvalue}")
            if o.id.get_type().committed() != t.id.get_type().committed():
                fail(f"{name}: named type use differs")
        if isinstance(o, (h5py.Dataset, h5py.Group, h5py.Datatype)):
            if sorted(o.attrs.keys()) != sorted(t.attrs.keys()):
                fail(f"{name}: attributes {sorted(o.attrs.keys())} vs {sorted(t.attrs.keys())}")
            for a in o.attrs:
                at = h5py.h5a.open(o.id, a.encode()).get_type()
                bt = h5py.h5a.open(t.id, a.encode()).get_type()
                if at != bt:
                    fail(f"{name}@{a}: attribute type differs")
        n += 1
    # named types shared: the datasets' types are the persisted named types
    if d["named/points"].id.get_type().committed() is not True:
        fail("named/points lost its named type")
    if h5py.h5o.get_info(d["named/points"].id.get_type()).addr != h5py.h5o.get_info(d["named/point"].id).addr:
        fail("named/points does not use /named/point")
    # hard links stay shared
    if d["links/hard_to_d2"] != d["dims/d2"] or d["links/hard_group"] != d["strings"]:
        fail("hard links were duplicated")
    sl = d.get("links/soft", getlink=True)
    if not isinstance(sl, h5py.SoftLink) or sl.path != "/dims/d1":
        fail("soft link not kept")
    if not isinstance(d.get("links/dangling", getlink=True), h5py.SoftLink):
        fail("dangling soft link not kept")
    el = d.get("links/ext", getlink=True)
    if not isinstance(el, h5py.ExternalLink) or el.filename != "ext.h5" or el.path != "/target":
        fail("external link not kept")
    # references remapped
    r = d["refs/objrefs"]
    want = ["/dims/d2", "/strings", "/named/point", "/dims/d2"]
    for i, w in enumerate(want):
        if d[r[i]] != d[w]:
            fail(f"refs/objrefs[{i}] -> {d[r[i]].name}, want {w}")
    if d[d["refs"].attrs["aref"]] != d["dims/d1"]:
        fail("attribute reference not remapped")
    if d[d["dims/d1"].attrs["ref_to_later"]] != d["dims/scalar"]:
        fail("dataset attribute reference not remapped")
    if d[d["refs/scalar_ref"][()]] != d["fill/partial"]:
        fail("scalar reference not remapped")
    if any(bool(x) for x in d["refs/null_refs"][...]):
        fail("null references became non-null")
    print(f"check ok: {n} objects")


def layouts(dst):
    with h5py.File(dst, "r") as f:
        def show(name, o):
            if isinstance(o, h5py.Dataset):
                pl = o.id.get_create_plist()
                lay = {0: "compact", 1: "contiguous", 2: "chunked"}.get(pl.get_layout(), "?")
                print(f"/{name} {lay} {o.chunks} {o.maxshape} {o.compression}")
        f.visititems(show)


def sparse(src, dst):
    with h5py.File(src, "r") as s, h5py.File(dst, "r") as d:
        a, b = s["huge"], d["huge"]
        if b.shape != a.shape or b.fillvalue != -1:
            fail("huge: shape or fill value")
        for idx in [(0, 0), (0, 1), (999999, 999999), (500005, 777777), (123456, 654321)]:
            if a[idx] != b[idx]:
                fail(f"huge{idx}: {a[idx]} vs {b[idx]}")
        if not np.array_equal(a[500000:500010, 777777], b[500000:500010, 777777]):
            fail("huge column differs")
        print("sparse ok", b.id.get_create_plist().get_layout(), b.chunks, b.id.get_storage_size())


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2])
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3])
    elif cmd == "layouts":
        layouts(sys.argv[2])
    elif cmd == "sparse":
        sparse(sys.argv[2], sys.argv[3])
