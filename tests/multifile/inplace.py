# Read a multifile directory in place from h5py: the driver is set on an
# h5py file access list through libh5tier (ctypes), then the values are
# checked against the standard content of tests/multifile/mf_test.h.
#   python3 inplace.py LIBH5TIER NAME BUMP
import ctypes
import sys

import h5py
import numpy as np

lib = ctypes.CDLL(sys.argv[1])
fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
if lib.H5Pset_fapl_multifile(ctypes.c_int64(fapl.id), None) < 0:
    sys.exit("H5Pset_fapl_multifile failed")
bump = int(sys.argv[3])
with h5py.File(h5py.h5f.open(sys.argv[2].encode(), h5py.h5f.ACC_RDONLY, fapl=fapl)) as f:
    i, j = np.meshgrid(np.arange(64), np.arange(48), indexing="ij")
    want = {"rows_contig": i * 1000 + j + bump, "cols_contig": i * 1000 + j + 0.5,
            "grp/rows_chunk": i * 1000 + j, "grp/cols_chunk": i * 1000 + j + 0.5}
    for name, w in want.items():
        got = f[name][...]
        if not np.array_equal(got, w):
            sys.exit("%s differs at %s" % (name, np.argwhere(got != w)[:3].tolist()))
    print("h5py in place ok:", sorted(f.keys()), f.attrs["nranks_in_job"])
