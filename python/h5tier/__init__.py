"""h5tier for Python: follow live rings as numpy arrays, write to them, open
HDF5 files in shared memory with h5py, persist and archive.

    import h5tier
    ring = h5tier.Ring("ev")
    with ring.reader("events", start="latest", timeout=5) as rd:
        for batch in rd:                 # numpy arrays of records
            print(batch.first_seq, batch["adc"].mean())

    f = h5tier.shm_file("run1", "w")     # an h5py.File in /dev/shm/run1
    h5tier.persist(f, "run1.h5")

Errors are h5tier.Error exceptions (OSError subclasses) whose text is the
library's explanation.  See docs/python.md.
"""
from ._lib import (Error, NotFoundError, ExistsError, BusyError, SchemaError, LappedError, GoneError,  # noqa: F401
                   DeadWriterError, Timeout, lib_path, ENOTHDF5, ETRUNC, EMAGIC, EVERSION, EHDF5, EDEADWRITER,
                   ELAPPED, EGONE, ESCHEMA, EJOURNAL)
from .ring import Ring, Stream, Reader, Writer, Batch, View, create, remove, dtype_spec  # noqa: F401
from .files import shm_file, shm_fapl, shm_info, shm_remove, persist, archive  # noqa: F401

create_ring = create
remove_ring = remove
__version__ = "0.1.0"
