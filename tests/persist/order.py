#!/usr/bin/python3
"""Creation-order sources and checks for test_persist_order (run with /usr/bin/python3, h5py).

    order.py make DIR         write DIR/ordered.h5 (track_order=True on the file and
                              on groups and datasets, names inserted out of
                              alphabetical order) and DIR/plain.h5 (the same
                              without tracking)
    order.py check SRC DST    every group of DST lists its keys in SRC's order
                              (those of SRC's keys that DST has), every object
                              lists its attributes in SRC's order (h5diff checks
                              that none is missing), and DST tracks
                              creation order wherever SRC does
    order.py plain DST        DST tracks no creation order and lists names sorted
"""
import sys

import h5py
import numpy as np

NAMES = ["zeta", "alpha", "mid", "beta", "omega", "kappa"]


def attrs(obj, names, ref=None):
    for i, n in enumerate(names):
        obj.attrs[n] = np.int32(i)
        if ref is not None and i == 1:  # a reference in the middle: copied after every object exists
            obj.attrs.create("ref_" + n, ref, dtype=h5py.ref_dtype)


def make_one(path, track):
    with h5py.File(path, "w", track_order=track) as f:
        # a group created before the named type its dataset uses later: listed first
        early = f.create_group("early", track_order=track)
        types = f.create_group("types", track_order=track)
        types["z_type"] = np.dtype("<i2")
        types["a_type"] = np.dtype([("x", "<f4"), ("y", "<f4")])
        z = f.create_group("zeta", track_order=track)
        for n in NAMES:
            z.create_dataset(n, data=np.arange(4, dtype="i4") + len(n), track_order=track)
        inner = z.create_group("inner", track_order=track)
        for i, n in enumerate(NAMES + ["b2", "a2", "z2", "y2", "c2", "x2", "d2"]):  # 13 links: dense storage
            if i % 3 == 0:
                inner.create_group(n, track_order=track)
            else:
                inner.create_dataset(n, data=np.float64(i), track_order=track)
        z["soft_middle"] = h5py.SoftLink("/zeta/alpha")
        z["hard_middle"] = z["mid"]
        z.create_dataset("after_links", data=np.arange(3))
        f.create_group("alpha", track_order=track)
        m = f.create_group("mid", track_order=track)
        m.create_dataset("uses_type", data=np.arange(3, dtype="<i2"), dtype=types["z_type"])
        early.create_dataset("uses_type", data=np.zeros(2, dtype=types["a_type"].dtype), dtype=types["a_type"])
        f["ext_middle"] = h5py.ExternalLink("other.h5", "/x")
        f.create_dataset("big", data=np.arange(100000, dtype="<f8"), track_order=track)  # contiguous
        # attributes out of order on the file, groups, datasets and a named type
        attrs(f, ["zeta", "alpha", "mid"])
        attrs(z, ["zulu", "alpha", "yankee", "bravo"])
        attrs(z["mid"], ["zz", "aa", "mm"], ref=f["alpha"].ref)
        attrs(z["alpha"], ["n%02d" % (20 - i) for i in range(12)])  # 12 attributes: dense storage
        attrs(types["z_type"], ["units", "about"])
        attrs(f["big"], ["z", "a"], ref=f["zeta/inner"].ref)


def make(d):
    make_one(d + "/ordered.h5", True)
    make_one(d + "/plain.h5", False)


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def tracked(obj):
    if isinstance(obj, h5py.Group):
        pl = obj.id.get_create_plist()
        return (pl.get_link_creation_order(), pl.get_attr_creation_order())
    return (0, obj.id.get_create_plist().get_attr_creation_order())


def check_attrs(name, so, do):
    got = list(do.attrs.keys())
    want = [k for k in so.attrs.keys() if k in got]  # a subset has no root attributes
    if got != want:
        fail(f"{name}: attributes {got}, want {want}")
    if tracked(so)[1] and not tracked(do)[1]:
        fail(f"{name}: attribute creation order not tracked in the destination")


def check(src, dst):
    # the root through f["/"]: h5py 3.7 lists a reopened File's own keys and
    # attributes in name order (it asks the file creation property list,
    # which HDF5 does not fill from the root group)
    s = h5py.File(src, "r")["/"]
    d = h5py.File(dst, "r")["/"]
    n = 0

    def group(name, dg):
        nonlocal n
        sg = s[dg.name]
        want = [k for k in sg.keys() if k in dg]
        got = list(dg.keys())
        if got != want:
            fail(f"group /{name}: keys {got}, want {want}")
        if tracked(sg)[0] and not tracked(dg)[0]:
            fail(f"group /{name}: link creation order not tracked in the destination")
        n += 1

    def visit(name, o):
        if isinstance(o, h5py.Group):
            group(name, o)
        check_attrs("/" + name, s[o.name], o)

    group("", d)
    check_attrs("/", s, d)
    d.visititems(visit)
    # datasets listed before their named type still share the persisted type
    for ds, t in [("early/uses_type", "types/a_type"), ("mid/uses_type", "types/z_type")]:
        if ds in d and t in d:
            dt = d[ds].id.get_type()
            if not dt.committed() or h5py.h5o.get_info(dt).addr != h5py.h5o.get_info(d[t].id).addr:
                fail(f"{ds} does not use the persisted /{t}")
    print(f"order ok: {n} groups")


def plain(dst):
    with h5py.File(dst, "r") as f:
        d = f["/"]
        def visit(name, o):
            if any(tracked(o)):
                fail(f"/{name} tracks creation order")
            if isinstance(o, h5py.Group) and list(o.keys()) != sorted(o.keys()):
                fail(f"/{name}: keys not in name order: {list(o.keys())}")
            if list(o.attrs.keys()) != sorted(o.attrs.keys()):
                fail(f"/{name}: attributes not in name order")
        if any(tracked(d)):
            fail("/ tracks creation order")
        visit("", d)
        d.visititems(visit)
    print("plain ok")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2])
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3])
    elif cmd == "plain":
        plain(sys.argv[2])
