"""Proves h5tier.shm_file gives an h5py.File on the project's shm driver
(created, reopened, growing, with a backing file written back on close, and
followed with SWMR while a C process writes it), that h5tier.persist's output
is identical to its source for h5diff, that h5tier.archive turns a ring into
an HDF5 archive, and that bad input raises with the library's message."""
import os
import subprocess
import time

import h5py
import numpy as np
import pytest

import h5tier
from conftest import TEST_BIN, cli, shm_path


def fill(f):
    f["ints"] = np.arange(1000, dtype="i4")
    f.create_dataset("grp/img", data=np.arange(6000, dtype="u2").reshape(60, 100), chunks=(10, 100),
                     maxshape=(None, 100))
    f["grp/ev"] = np.zeros(50, dtype=[("seq", "<u8"), ("e", ">f4"), ("v", "u1", (3,))])
    f["grp"].attrs["gain"] = 2.5
    f.attrs["run"] = "r1"
    f["big"] = np.random.default_rng(1).normal(size=(300, 1000))


def test_shm_file_and_persist_round_trip_h5diff(shm_name, tmp_path):
    name = shm_name("f")
    with h5tier.shm_file(name, "w") as f:
        assert isinstance(f, h5py.File)
        fill(f)
    assert os.path.exists(shm_path(name))
    info = h5tier.shm_info(name)
    assert info["is_hdf5"] and info["has_control"] and not info["writer_alive"]
    with h5tier.shm_file(name, "r") as f:
        assert f["ints"][999] == 999 and f["grp"].attrs["gain"] == 2.5
        plan = h5tier.persist(f, tmp_path / "out.h5")
    layouts = {p["path"]: p["layout"] for p in plan}
    assert layouts["/ints"] == "compact" and layouts["/big"] == "contiguous"
    assert subprocess.run(["h5diff", shm_path(name), str(tmp_path / "out.h5")]).returncode == 0
    # a path string "shm:NAME" and a subset of objects; the dry run writes nothing
    plan = h5tier.persist("shm:" + name, tmp_path / "grp.h5", objects=["/grp"], dry_run=True)
    assert {p["path"] for p in plan} >= {"/grp", "/grp/img", "/grp/ev"}
    assert not os.path.exists(tmp_path / "grp.h5")
    h5tier.persist("shm:" + name, tmp_path / "grp.h5", objects=["/grp"])
    assert subprocess.run(["h5diff", shm_path(name), str(tmp_path / "grp.h5"), "/grp", "/grp"]).returncode == 0
    # refusing to replace without force, with the library's message
    with pytest.raises(h5tier.ExistsError) as ei:
        h5tier.persist("shm:" + name, tmp_path / "grp.h5")
    assert "grp.h5" in str(ei.value)
    h5tier.persist("shm:" + name, tmp_path / "grp.h5", force=True)
    # modes: x refuses an existing object, a opens it
    with pytest.raises(h5tier.ExistsError):
        h5tier.shm_file(name, "x")
    with h5tier.shm_file(name, "a") as f:
        f["more"] = [1, 2, 3]
    with h5tier.shm_file(name, "r") as f:
        assert list(f["more"][:]) == [1, 2, 3]


def test_shm_file_with_backing_file(shm_name, tmp_path):
    name = shm_name("b")
    back = tmp_path / "back.h5"
    with h5tier.shm_file(name, "w", backing=back) as f:
        fill(f)
    assert subprocess.run(["h5diff", shm_path(name), str(back)]).returncode == 0
    h5tier.shm_remove(name)
    # the shm object is gone: opening loads it from the backing file
    with h5tier.shm_file(name, "r+", backing=back) as f:
        assert f["grp/img"][59, 99] == 5999
        f["grp/img"][0, 0] = 7
    with h5py.File(back, "r") as g:
        assert g["grp/img"][0, 0] == 7


def test_shm_file_swmr_follows_c_writer(shm_name, tmp_path):
    name = shm_name("s")
    ready = tmp_path / "ready"
    count = 2000
    w = subprocess.Popen([os.path.join(TEST_BIN, "py_swmr_writer"), name, str(count), str(ready)],
                         stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while not ready.exists():
        assert w.poll() is None, w.stderr.read()
        assert time.monotonic() - t0 < 10
        time.sleep(0.005)
    seen = []
    with h5tier.shm_file(name, "r", swmr=True) as f:
        d = f["x"]
        while len(seen) < count and time.monotonic() - t0 < 30:
            d.refresh()
            n = d.shape[0]
            if n > len(seen):
                seen.extend(d[len(seen):n].tolist())
            else:
                time.sleep(0.001)
        grew_while_writing = w.poll() is None
    assert w.wait(20) == 0, w.stderr.read()
    assert seen == list(range(count))
    assert grew_while_writing or len(seen) == count


def test_archive_of_a_ring(shm_name, tmp_path):
    name = shm_name()
    cli("ring", "create", name, "--dtype", "u1[64]", "--capacity", "64k")
    cli("ring", "write", name, "--count", "5000")
    out = tmp_path / "arch.h5"
    st = h5tier.archive(name, out, idle_timeout=0.3)
    assert st["records"] == 5000 and st["lost_records"] == 0
    with h5py.File(out, "r") as f:
        assert f["data"].shape == (5000, 64)
        assert (f["/.h5tier/data/seq"][:] == np.arange(5000)).all()
        assert (f["data"][:, :8].copy().view("<u8")[:, 0] == np.arange(5000)).all()


def test_archive_mode_when_the_library_has_it(shm_name, tmp_path):
    from h5tier import _lib
    name = shm_name()
    cli("ring", "create", name, "--dtype", "u8", "--capacity", "64")
    cli("ring", "write", name, "--count", "10")
    if not _lib.ARCHIVER_HAS_MODE:
        with pytest.raises(TypeError):
            h5tier.archive(name, tmp_path / "a.h5", idle_timeout=0.1, mode=0o640)
        return
    h5tier.archive(name, tmp_path / "a.h5", idle_timeout=0.1, mode=0o640)
    assert os.stat(tmp_path / "a.h5").st_mode & 0o777 == 0o640


def test_bad_input_gives_the_library_message(shm_name):
    name = shm_name()
    with pytest.raises(h5tier.NotFoundError) as ei:
        h5tier.Ring(name)
    assert "no such shm object" in str(ei.value) and name in str(ei.value)
    with pytest.raises(FileNotFoundError):
        h5tier.Reader(name)
    ring = h5tier.create(name, {"ev": ("{seq:u8,e:f4}", 64), "img": ("u2[4,4]", 8)})
    with pytest.raises(h5tier.NotFoundError) as ei:
        ring.reader("nope")
    assert "no stream 'nope'" in str(ei.value) and "ev" in str(ei.value) and "img" in str(ei.value)
    with ring.writer() as w:
        with pytest.raises(h5tier.NotFoundError) as ei:
            w.put("nope", 1)
        assert "no stream 'nope'" in str(ei.value)
        with pytest.raises(h5tier.SchemaError) as ei:
            w.put_many("ev", np.zeros(3, "f8"))
        assert "stream 'ev'" in str(ei.value) and "float64" in str(ei.value)
        with pytest.raises(TypeError):           # SchemaError is a TypeError too
            w.put("img", np.zeros((4, 5), "u2"))
        with pytest.raises(h5tier.SchemaError) as ei:
            w.put_many("img", np.zeros((4, 4), "u2"))
        assert "shape" in str(ei.value)
        with pytest.raises(h5tier.BusyError) as ei:
            ring.writer()
        assert str(os.getpid()) in str(ei.value)
        w.put_many("ev", np.zeros(200, ring["ev"].dtype))
    with pytest.raises(h5tier.GoneError) as ei:
        ring.reader("ev", start=3)
    assert "gone" in str(ei.value)
    with pytest.raises(h5tier.NotFoundError) as ei:
        h5tier.shm_file(name + "-none", "r")
    assert "%s-none' does not exist" % name in str(ei.value)
    with pytest.raises(h5tier.Error) as ei:
        h5tier.shm_file("bad/name", "w")
    assert ei.value.errno == 22 and "bad name" in str(ei.value)
    with pytest.raises(h5tier.Error) as ei:
        h5tier.remove(name + "-none")
    assert ei.value.errno == 2
