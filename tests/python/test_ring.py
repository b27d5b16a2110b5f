"""Proves the Python ring reader and writer against the C side in other
processes: continuity with a tethered reader (every record, in order,
checksums intact), lapping (records + lost == written, no torn record, the
jumps in first_seq equal the lost count), zero-copy views that raise when
overwritten while in use, a Python writer read back by `h5tier ring tail`,
timeouts, dead writers, iteration and context managers."""
import json
import os
import subprocess
import time

import numpy as np
import pytest

import h5tier
from conftest import CLI, cli, payload_check


def c_writer(name, count, *extra):
    return subprocess.Popen([CLI, "ring", "write", name, "--count", str(count)] + list(extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_continuity_tethered_reader_against_c_writer(shm_name):
    name = shm_name()
    cli("ring", "create", name, "--dtype", "u1[64]", "--capacity", "4k")
    ring = h5tier.Ring(name)
    assert ring["data"].shape == (64,) and ring["data"].dtype == np.uint8
    total = 100000
    with ring.reader(start="oldest", tether="pytest", timeout=5) as rd:
        w = c_writer(name, total, "--batch", "64")
        expect = 0
        for batch in rd:
            assert batch.first_seq == expect
            seq, ok = payload_check(batch)
            assert ok.all(), "torn record"
            assert (seq == batch.seqs).all()
            expect += len(batch)
            if expect == total:
                break
        assert w.wait(20) == 0, w.stderr.read()
        assert expect == total
        assert rd.lost == 0
    h5tier.ring.lib.h5tier_ring_untether(name.encode(), None, b"pytest")


def test_lapping_counts_every_lost_record(shm_name):
    name = shm_name()
    cli("ring", "create", name, "--dtype", "u1[64]", "--capacity", "1k")
    total = 200000
    got = lost_seen = 0
    with h5tier.Ring(name).reader(start="oldest", timeout=2, batch=256) as rd:
        w = c_writer(name, total, "--batch", "16")
        expect = 0
        while expect < total:
            try:
                b = rd.read()
            except h5tier.Timeout:
                break
            if b.first_seq > expect:
                lost_seen += b.first_seq - expect
            assert b.first_seq >= expect
            seq, ok = payload_check(b)
            assert ok.all(), "a torn record was returned"
            assert (seq == b.seqs).all()
            got += len(b)
            expect = b.first_seq + len(b)
            time.sleep(0.0005)   # fall behind now and then
        assert w.wait(20) == 0
        st = rd.stats()
    assert expect == total
    assert st["lost"] > 0 and st["laps"] > 0
    assert got + st["lost"] == total
    assert lost_seen == st["lost"]
    assert st["records"] == got


def test_view_overwritten_while_in_use_raises(shm_name):
    name = shm_name()
    cli("ring", "create", name, "--dtype", "u1[64]", "--capacity", "1k")
    cli("ring", "write", name, "--count", "100")
    ring = h5tier.Ring(name)
    with ring.reader(start="oldest", timeout=0) as rd:
        # an intact view passes
        with rd.view(10) as v:
            assert not v.flags.writeable
            assert v.first_seq == 0 and len(v) == 10
            assert (payload_check(v)[0] == np.arange(10)).all()
        # a view overwritten by a C writer while held raises on validation
        v = rd.view(50)
        assert v.first_seq == 10
        cli("ring", "write", name, "--count", "2048")
        with pytest.raises(h5tier.LappedError) as ei:
            rd.view_done()
        assert "overwritten" in str(ei.value)
        assert rd.lost >= 50
        # the same through `with`: leaving the block raises
        rd.seek(rd.stats()["tail"] - 100)
        with pytest.raises(h5tier.LappedError):
            with rd.view(10) as v:
                cli("ring", "write", name, "--count", "2048")
        # and through iteration with copy=False: the next step raises
        rd.copy = False
        rd.seek(rd.stats()["tail"] - 10)
        it = iter(rd)
        first = next(it)
        assert len(first) == 10
        cli("ring", "write", name, "--count", "2048")
        with pytest.raises(h5tier.LappedError):
            next(it)


def test_views_follow_a_live_writer_without_torn_data(shm_name):
    name = shm_name()
    cli("ring", "create", name, "--dtype", "u1[128]", "--capacity", "256")
    w = c_writer(name, 100000, "--batch", "8")
    checked = lapped = 0
    with h5tier.Ring(name).reader(start="oldest", timeout=1, batch=64) as rd:
        while True:
            try:
                v = rd.view()
            except (h5tier.Timeout, h5tier.DeadWriterError):
                break
            seq, ok = payload_check(v)     # may be torn: only trusted after view_done
            try:
                rd.view_done()
            except h5tier.LappedError:
                lapped += 1
                continue
            assert ok.all() and (seq == v.seqs).all()
            checked += len(v)
    assert w.wait(20) == 0
    assert checked > 0


def test_python_writer_read_by_c_tail(shm_name):
    name = shm_name()
    dt = np.dtype([("seq", "<u8"), ("ts", "<f8"), ("adc", "<u2", (4,))])
    ring = h5tier.create(name, {"ev": (dt, 1024), "img": ("u2[8,8]", 16)})
    assert ring["ev"].dtype == dt and ring["img"].shape == (8, 8)
    recs = np.zeros(500, dt)
    recs["seq"] = np.arange(500)
    recs["ts"] = np.arange(500) * 0.5
    recs["adc"] = (np.arange(2000) % 65536).reshape(500, 4)
    with ring.writer() as w:
        assert w.put_many("ev", recs[:499]) == 0
        assert w.put("ev", recs[499]) == 499
        assert w.put("img", np.arange(64, dtype="u2").reshape(8, 8)) == 0
        assert w.tail("ev") == 500
    out = cli("ring", "tail", name, "--stream", "ev", "--json", "--count", "500", "--timeout", "2").stdout
    rows = [json.loads(l) for l in out.splitlines()]
    assert [r["seq"] for r in rows] == list(range(500))
    for r in rows:
        k = r["seq"]
        assert r["data"]["seq"] == k and r["data"]["ts"] == k * 0.5
        assert r["data"]["adc"] == [int(x) for x in recs["adc"][k]]
    out = cli("ring", "tail", name, "--stream", "img", "--json", "--count", "1", "--timeout", "2").stdout
    assert json.loads(out)["data"] == list(range(64))


def test_reader_timeout_dead_writer_and_context(shm_name):
    name = shm_name()
    ring = h5tier.create(name, {"data": ("f8", 64)})
    with ring.reader(timeout=0.2) as rd:
        t0 = time.monotonic()
        with pytest.raises(h5tier.Timeout):
            rd.read()
        assert 0.15 < time.monotonic() - t0 < 2
        assert list(rd) == []           # iteration ends at the timeout
    # a writer killed while the reader waits: DeadWriterError after its records
    w = c_writer(name, 10**9, "--rate", "1000")
    with ring.reader(start="oldest") as rd:
        b = rd.read(timeout=5)
        assert len(b) >= 1
        w.kill()
        w.wait()
        n = 0
        with pytest.raises(h5tier.DeadWriterError):
            while True:
                n += len(rd.read(timeout=5))
    with pytest.raises(ValueError):
        rd.read()


def test_blocking_read_wakes_on_put(shm_name):
    name = shm_name()
    ring = h5tier.create(name, {"data": ("u8", 64)})
    p = subprocess.Popen(["sh", "-c", "sleep 0.3; exec %s ring write %s --count 5" % (CLI, name)])
    with ring.reader(start="latest") as rd:
        t0 = time.monotonic()
        b = rd.read(timeout=-1)
        assert len(b) >= 1 and 0.2 < time.monotonic() - t0 < 5
    p.wait()


def test_ring_info_shows_python_reader(shm_name):
    name = shm_name()
    ring = h5tier.create(name, {"data": ("u8", 64)})
    with ring.reader(start="oldest", tether="t1"):
        info = ring.info()
        s = info["streams"][0]
        assert any(r["pid"] == os.getpid() for r in s["readers"])
        assert s["tethers"][0]["name"] == "t1"


def test_batches_kept_by_the_caller_are_never_reused(shm_name):
    name = shm_name()
    ring = h5tier.create(name, {"data": ("u8", 4096)})
    with ring.writer() as w:
        w.put_many(None, np.arange(4000, dtype="u8"))
    with ring.reader(start="oldest", batch=100, timeout=0) as rd:
        kept = [rd.read() for _ in range(5)]          # all alive: five buffers
        field = rd.read()[10:20]                      # a slice keeps its buffer too
        for _ in range(10):
            rd.read()                                 # dropped at once: one buffer reused
        out = np.zeros(50, "u8")
        ob = rd.read(max=80, out=out)
        assert ob.base is out or ob.base.base is out
    for k, b in enumerate(kept):
        assert (b == np.arange(k * 100, k * 100 + 100)).all() and b.first_seq == k * 100
    assert (field == np.arange(510, 520)).all()
    assert (out == np.arange(1600, 1650)).all() and ob.first_seq == 1600


def test_stream_paths_and_attributes_from_like(shm_name, tmp_path):
    import h5py
    src = tmp_path / "src.h5"
    with h5py.File(src, "w") as f:
        d = f.create_dataset("det/frames", data=np.zeros((3, 4, 5), dtype=">u2"))
        d.attrs["gain"] = 2.5
        d.attrs["units"] = "adu"
        d.attrs["roi"] = np.array([1, 2, 3, 4], dtype="i4")
    name = shm_name()
    cli("ring", "create", name, "--like", "%s:/det/frames" % src, "--capacity", "8")
    st = h5tier.Ring(name)["/det/frames"]        # --like keeps the dataset's path
    assert st.name == "det/frames" and h5tier.Ring(name)["det/frames"].path == "/det/frames"
    assert st.path == "/det/frames" and st.shape == (4, 5) and st.dtype == np.dtype(">u2")
    assert st.attrs["gain"] == 2.5 and st.attrs["units"] == "adu"
    assert list(st.attrs["roi"]) == [1, 2, 3, 4]


def test_a_view_kept_after_close_keeps_the_mapping(shm_name):
    name = shm_name()
    ring = h5tier.create(name, {"data": ("u8", 64)})
    with ring.writer() as w:
        w.put_many(None, np.arange(10, dtype="u8"))
    rd = ring.reader(start="oldest", timeout=0)
    v = rd.view()
    s = v[2:5]
    rd.close()                       # the C reader stays open while a view is alive
    assert list(s) == [2, 3, 4]      # no crash: the mapping is still there
    assert any(r["pid"] == os.getpid() for r in ring.info()["streams"][0]["readers"])
    del v, s                         # now it closes
    assert not any(r["pid"] == os.getpid() for r in ring.info()["streams"][0]["readers"])
    with pytest.raises(ValueError):
        rd.view()


def test_views_cannot_be_made_writeable(shm_name):
    name = shm_name()
    ring = h5tier.create(name, {"data": ("u8", 64)})
    with ring.writer() as w:
        w.put(None, 7)
    with ring.reader(start="oldest", timeout=0) as rd:
        with rd.view() as v:
            with pytest.raises(ValueError):
                v.flags.writeable = True
            with pytest.raises(ValueError):
                v[0] = 1
            assert v[0] == 7
