"""Proves the ctypes declarations of python/h5tier/_lib.py have the sizes of
the public C structs they mirror (printed by the C program py_sizes), so a
field added to a public header without its Python twin fails here."""
import os
import subprocess

from h5tier import _lib
from conftest import TEST_BIN

MIRRORS = {
    "h5tier_ring_stream_spec_t": _lib.StreamSpec, "h5tier_ring_writer_opts_t": _lib.WriterOpts,
    "h5tier_ring_reader_opts_t": _lib.ReaderOpts, "h5tier_ring_reader_stats_t": _lib.ReaderStats,
    "h5tier_ring_reader_info_t": _lib.ReaderInfo, "h5tier_ring_tether_info_t": _lib.TetherInfo,
    "h5tier_ring_stream_info_t": _lib.StreamInfo, "h5tier_ring_info_t": _lib.RingInfo,
    "h5tier_shm_config_t": _lib.ShmConfig, "h5tier_shm_info_t": _lib.ShmInfo,
    "h5tier_persist_plan_t": _lib.PersistPlan, "h5tier_persist_opts_t": _lib.PersistOpts,
    "h5tier_archiver_stats_t": _lib.ArchiverStats, "h5tier_archiver_opts_t": _lib.ArchiverOpts,
}


def test_ctypes_structs_match_the_c_headers():
    out = subprocess.run([os.path.join(TEST_BIN, "py_sizes")], capture_output=True, text=True, check=True).stdout
    sizes = dict((l.split()[0], int(l.split()[1])) for l in out.splitlines())
    assert set(sizes) == set(MIRRORS)
    wrong = {n: (sizes[n], _lib.c_size(cls)) for n, cls in MIRRORS.items() if sizes[n] != _lib.c_size(cls)}
    assert not wrong, "C size vs python/h5tier/_lib.py: %s" % wrong
