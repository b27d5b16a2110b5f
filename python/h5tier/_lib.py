"""Loading libh5tier and its C declarations (ctypes), and turning its error
codes into Python exceptions.

The library is found, in order, at $H5TIER_LIB (a path to libh5tier.so), in
$H5TIER_BUILD_DIR, in the build directory of the source tree this package
sits in (python/../build), then wherever the dynamic linker finds
libh5tier.so.0 (an installed library).  libh5tier and h5py must use the same
libhdf5 (Debian's python3-h5py and libhdf5-dev do): file and property list
ids are handed from one to the other.
"""
import ctypes
import ctypes.util
import errno as _errno
import os
import threading

c_hid = ctypes.c_int64
c_hsize = ctypes.c_uint64
c_herr = ctypes.c_int

RING_MAX_STREAMS = 64
RING_STREAM_NAME_MAX = 47
RING_MAX_TETHERS = 8
RING_MAX_READERS = 32
RING_TETHER_NAME_MAX = 31
RING_MAX_RANK = 8

# h5tier's own error numbers (include/h5tier.h)
EBASE = 10000
ENOTHDF5, ETRUNC, EMAGIC, EVERSION, EHDF5, EDEADWRITER, ELAPPED, EGONE, ESCHEMA, EJOURNAL = range(10001, 10011)


def _candidates():
    env = os.environ.get("H5TIER_LIB")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    dirs = []
    if os.environ.get("H5TIER_BUILD_DIR"):
        dirs.append(os.environ["H5TIER_BUILD_DIR"])
    dirs.append(os.path.join(here, "..", "..", "build"))
    for d in dirs:
        p = os.path.join(d, "libh5tier.so")
        if os.path.exists(p):
            yield os.path.normpath(p)
    yield "libh5tier.so.0"
    found = ctypes.util.find_library("h5tier")
    if found:
        yield found


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    raise ImportError("h5tier: cannot load libh5tier (set H5TIER_LIB to the path of libh5tier.so, or build "
                      "the library with 'make' in the source tree): " + "; ".join(errors))


lib, lib_path = _load()


# A second handle on the same library whose functions have no argtypes: the
# hot read path passes ready-made ctypes objects, which skips conversions.
raw = ctypes.CDLL(lib_path)
raw.h5tier_ring_next_many.restype = ctypes.c_long
raw.h5tier_ring_view.restype = ctypes.c_long


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


# ---- structures (include/h5tier_*.h) -------------------------------------------------

class StreamSpec(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * (RING_STREAM_NAME_MAX + 1)), ("type", c_hid), ("rank", ctypes.c_int),
                ("dims", c_hsize * RING_MAX_RANK), ("capacity", ctypes.c_uint64), ("attr_source", c_hid),
                ("owns_ids", ctypes.c_int)]


class WriterOpts(ctypes.Structure):
    _fields_ = [("tether_timeout_ms", ctypes.c_int), ("flags", ctypes.c_uint)]


class ReaderOpts(ctypes.Structure):
    _fields_ = [("from_", ctypes.c_int), ("seq", ctypes.c_uint64), ("tether", ctypes.c_char_p),
                ("flags", ctypes.c_uint), ("dead_after_ms", ctypes.c_int), ("spin_us", ctypes.c_int),
                ("batch_wait_ns", ctypes.c_int)]


class ReaderStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("position", "records", "lost", "laps", "tail", "generation")]


class ReaderInfo(ctypes.Structure):
    _fields_ = [("pid", ctypes.c_int), ("alive", ctypes.c_int), ("tethered", ctypes.c_int),
                ("position", ctypes.c_uint64), ("records", ctypes.c_uint64), ("lost", ctypes.c_uint64),
                ("laps", ctypes.c_uint64)]


class TetherInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * (RING_TETHER_NAME_MAX + 1)), ("pid", ctypes.c_int), ("alive", ctypes.c_int),
                ("position", ctypes.c_uint64)]


class StreamInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * (RING_STREAM_NAME_MAX + 1))] + \
        [(n, ctypes.c_uint64) for n in ("record_size", "capacity", "data_offset", "tail", "tail_intent", "oldest")] + \
        [("waiters", ctypes.c_uint), ("ntethers", ctypes.c_uint), ("tethers", TetherInfo * RING_MAX_TETHERS),
         ("nreaders", ctypes.c_uint), ("readers", ReaderInfo * RING_MAX_READERS)]


class RingInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 256), ("version", ctypes.c_uint), ("generation", ctypes.c_uint64),
                ("writer_pid", ctypes.c_int), ("writer_alive", ctypes.c_int), ("heartbeat_age_s", ctypes.c_double),
                ("nstreams", ctypes.c_uint), ("userblock", ctypes.c_uint64), ("size", ctypes.c_uint64)]


class ShmConfig(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint), ("name", ctypes.c_char * 256), ("increment", ctypes.c_size_t),
                ("backing_file", ctypes.c_char * 4096), ("page_size", ctypes.c_size_t), ("on_close", ctypes.c_int),
                ("mode", ctypes.c_uint32), ("flags", ctypes.c_uint)]


class ShmInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 256), ("size", ctypes.c_uint64), ("eof", ctypes.c_uint64),
                ("owner", ctypes.c_uint32), ("mode", ctypes.c_uint32), ("writer_pid", ctypes.c_int),
                ("writer_alive", ctypes.c_int), ("generation", ctypes.c_uint64), ("is_hdf5", ctypes.c_int),
                ("has_control", ctypes.c_int), ("backing_file", ctypes.c_char * 4096),
                ("control_ignored", ctypes.c_int), ("control_note", ctypes.c_char * 1024)]


H5S_MAX_RANK = 32


class PersistPlan(ctypes.Structure):
    _fields_ = [("path", ctypes.c_char_p), ("kind", ctypes.c_int), ("layout", ctypes.c_int), ("rank", ctypes.c_int),
                ("dims", c_hsize * H5S_MAX_RANK), ("maxdims", c_hsize * H5S_MAX_RANK),
                ("chunk", c_hsize * H5S_MAX_RANK), ("bytes", ctypes.c_uint64), ("type", ctypes.c_char_p),
                ("compress_level", ctypes.c_int), ("shuffle", ctypes.c_int), ("reason", ctypes.c_char_p),
                ("source", ctypes.c_char_p), ("target", ctypes.c_char_p)]


PLAN_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(PersistPlan), ctypes.c_void_p)
PROGRESS_CB = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p)


class PersistOpts(ctypes.Structure):
    _fields_ = [("objects", ctypes.POINTER(ctypes.c_char_p)), ("nobjects", ctypes.c_size_t),
                ("compact_below", ctypes.c_uint64), ("contiguous_max", ctypes.c_uint64),
                ("chunk_bytes", ctypes.c_uint64), ("compress_level", ctypes.c_int), ("keep_growable", ctypes.c_int),
                ("memory", ctypes.c_uint64), ("force", ctypes.c_int), ("earliest_format", ctypes.c_int),
                ("dry_run", ctypes.c_int), ("plan_cb", PLAN_CB), ("progress", PROGRESS_CB), ("arg", ctypes.c_void_p)]


class ArchiverStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("records", "bytes", "lost_records", "lost_ranges", "lag",
                                                "unreleased", "first_seq")] + \
        [(n, ctypes.c_double) for n in ("seconds", "active_seconds", "first_record_s")] + \
        [("writer_dead", ctypes.c_int)]


ARCH_PROGRESS_CB = ctypes.CFUNCTYPE(None, ctypes.POINTER(ArchiverStats), ctypes.c_void_p)


class ArchiverOpts(ctypes.Structure):
    _fields_ = [("streams", ctypes.POINTER(ctypes.c_char_p)), ("nstreams", ctypes.c_uint), ("lossless", ctypes.c_int),
                ("tether", ctypes.c_char_p), ("keep_tether", ctypes.c_int), ("idle_timeout_s", ctypes.c_double),
                ("count", ctypes.c_uint64), ("duration_s", ctypes.c_double), ("flush_interval_s", ctypes.c_double),
                ("chunk_bytes", ctypes.c_size_t), ("archive_flags", ctypes.c_uint),
                ("stop", ctypes.POINTER(ctypes.c_int)), ("progress", ARCH_PROGRESS_CB),
                ("progress_arg", ctypes.c_void_p)]


def _probe_size(init, at_least):
    """sizeof the struct that init() (which zeroes the whole struct first)
    fills: the end of the bytes it wrote into a buffer of sentinels."""
    n = at_least + 256
    buf = (ctypes.c_ubyte * n)(*([0xA5] * n))
    init(buf)
    while n > 0 and buf[n - 1] == 0xA5:
        n -= 1
    return n


# Libraries with archive permissions (h5tier_archiver_opts_t.mode, after
# progress_arg) take a `mode` for new archive files.
_init = getattr(lib, "h5tier_archiver_opts_init")
_init.restype, _init.argtypes = None, [ctypes.c_void_p]
ARCHIVER_HAS_MODE = _probe_size(_init, ctypes.sizeof(ArchiverOpts)) > ctypes.sizeof(ArchiverOpts)
if ARCHIVER_HAS_MODE:
    class ArchiverOpts(ctypes.Structure):  # noqa: F811
        _fields_ = ArchiverOpts._fields_ + [("mode", ctypes.c_uint)]
del _init


# Structs that libh5tier initialises or fills one at a time get 4 KiB spare
# bytes at the end: a field appended in a newer library lands there instead
# of past the end of Python's copy (arrays of structs cannot be padded; their
# sizes are checked by tests/python/test_sizes.py against the C headers).
SPARE = 4096
for _cls in ("WriterOpts", "ReaderOpts", "ReaderStats", "RingInfo", "ShmConfig", "ShmInfo", "PersistOpts",
             "ArchiverStats", "ArchiverOpts"):
    _c = globals()[_cls]
    globals()[_cls] = type(_cls, (ctypes.Structure,), {"_fields_": list(_c._fields_) +
                                                       [("_spare", ctypes.c_char * SPARE)]})
del _cls, _c


def c_size(cls):
    """The size of the C struct a ctypes Structure mirrors (without the spare bytes)."""
    if not hasattr(cls, "_spare"):
        return ctypes.sizeof(cls)
    a = ctypes.alignment(cls)
    return (cls._spare.offset + a - 1) // a * a


P = ctypes.POINTER
vp = ctypes.c_void_p
ci = ctypes.c_int
cs = ctypes.c_char_p

strerror = _fn("h5tier_strerror", cs, ci)
errmsg = _fn("h5tier_errmsg", cs)

ring_stream_spec_init = _fn("h5tier_ring_stream_spec_init", None, P(StreamSpec))
ring_stream_from_dtype = _fn("h5tier_ring_stream_from_dtype", ci, P(StreamSpec), cs, cs, ctypes.c_uint64)
ring_stream_from_like = _fn("h5tier_ring_stream_from_like", ci, P(StreamSpec), cs, cs, ctypes.c_uint64)
ring_stream_spec_free = _fn("h5tier_ring_stream_spec_free", None, P(StreamSpec))
ring_create = _fn("h5tier_ring_create", ci, cs, P(StreamSpec), ctypes.c_uint, ctypes.c_uint32, ctypes.c_uint)
ring_remove = _fn("h5tier_ring_remove", ci, cs, ci)
ring_open_hdf5 = _fn("h5tier_ring_open_hdf5", c_hid, cs)
ring_writer_opts_init = _fn("h5tier_ring_writer_opts_init", None, P(WriterOpts))
ring_open_writer = _fn("h5tier_ring_open_writer", ci, cs, P(WriterOpts), P(vp))
ring_close = _fn("h5tier_ring_close", ci, vp)
ring_stream_index = _fn("h5tier_ring_stream_index", ci, vp, cs)
ring_record_size = _fn("h5tier_ring_record_size", ctypes.c_size_t, vp, ci)
ring_capacity = _fn("h5tier_ring_capacity", ctypes.c_uint64, vp, ci)
ring_tail = _fn("h5tier_ring_tail", ctypes.c_uint64, vp, ci)
ring_put = _fn("h5tier_ring_put", ci, vp, ci, vp, ctypes.c_size_t)
ring_put_many = _fn("h5tier_ring_put_many", ci, vp, ci, vp, ctypes.c_size_t, ctypes.c_size_t)
ring_claim_many = _fn("h5tier_ring_claim_many", ctypes.c_long, vp, ci, ctypes.c_size_t, P(vp), P(ctypes.c_uint64))
ring_commit_many = _fn("h5tier_ring_commit_many", ci, vp, ci, ctypes.c_size_t)
ring_cancel = _fn("h5tier_ring_cancel", ci, vp, ci)
ring_heartbeat = _fn("h5tier_ring_heartbeat", None, vp)
ring_reader_opts_init = _fn("h5tier_ring_reader_opts_init", None, P(ReaderOpts))
ring_reader_open = _fn("h5tier_ring_reader_open", ci, cs, cs, P(ReaderOpts), P(vp))
ring_reader_close = _fn("h5tier_ring_reader_close", ci, vp)
ring_next_many = _fn("h5tier_ring_next_many", ctypes.c_long, vp, vp, ctypes.c_size_t, ctypes.c_size_t,
                     P(ctypes.c_uint64), ci)
ring_view = _fn("h5tier_ring_view", ctypes.c_long, vp, P(vp), ctypes.c_size_t, P(ctypes.c_uint64), ci)
ring_view_done = _fn("h5tier_ring_view_done", ci, vp)
ring_reader_release = _fn("h5tier_ring_reader_release", ci, vp, ctypes.c_uint64)
ring_reader_seek = _fn("h5tier_ring_reader_seek", ci, vp, ctypes.c_uint64)
ring_reader_stats = _fn("h5tier_ring_reader_stats", ci, vp, P(ReaderStats))
ring_reader_record_size = _fn("h5tier_ring_reader_record_size", ctypes.c_size_t, vp)
ring_reader_capacity = _fn("h5tier_ring_reader_capacity", ctypes.c_uint64, vp)
ring_reader_stream = _fn("h5tier_ring_reader_stream", cs, vp)
ring_untether = _fn("h5tier_ring_untether", ci, cs, cs, cs)
ring_info = _fn("h5tier_ring_info", ci, cs, P(RingInfo), P(StreamInfo), ctypes.c_uint)

shm_config_init = _fn("h5tier_shm_config_init", None, P(ShmConfig))
H5Pset_fapl_shm = _fn("H5Pset_fapl_shm", c_herr, c_hid, P(ShmConfig))
shm_info = _fn("h5tier_shm_info", ci, cs, P(ShmInfo))
shm_remove = _fn("h5tier_shm_remove", ci, cs, ci)
shm_load = _fn("h5tier_shm_load", ci, cs, cs, ctypes.c_uint32, ci, vp, vp)
shm_save = _fn("h5tier_shm_save", ci, cs, cs, ci, vp, vp)

persist_opts_init = _fn("h5tier_persist_opts_init", None, P(PersistOpts))
persist = _fn("h5tier_persist", ci, c_hid, cs, P(PersistOpts))
persist_layout_name = _fn("h5tier_persist_layout_name", cs, ci)
persist_kind_name = _fn("h5tier_persist_kind_name", cs, ci)

archiver_opts_init = _fn("h5tier_archiver_opts_init", None, P(ArchiverOpts))
archive_ring = _fn("h5tier_archive_ring", ci, cs, cs, P(ArchiverOpts), P(ArchiverStats))


# ---- errors --------------------------------------------------------------------------

_CODE_NAMES = {ENOTHDF5: "ENOTHDF5", ETRUNC: "ETRUNC", EMAGIC: "EMAGIC", EVERSION: "EVERSION", EHDF5: "EHDF5",
               EDEADWRITER: "EDEADWRITER", ELAPPED: "ELAPPED", EGONE: "EGONE", ESCHEMA: "ESCHEMA",
               EJOURNAL: "EJOURNAL"}


class Error(OSError):
    """A failing h5tier call.  errno is the error number (an errno value or one
    of h5tier's own, e.g. h5tier.ESCHEMA); str() is the library's explanation
    (h5tier_errmsg), which names the object and the reason."""

    def __init__(self, code, message, strerror_text=None):
        super().__init__(code, message)
        self.code_name = _CODE_NAMES.get(code) or _errno.errorcode.get(code, str(code))
        self.strerror_text = strerror_text

    def __str__(self):
        return self.strerror


class NotFoundError(Error, FileNotFoundError):
    """No such ring, stream, shm object or file (ENOENT)."""


class ExistsError(Error, FileExistsError):
    """The ring or file exists already (EEXIST)."""


class BusyError(Error):
    """A live writer or archiver holds it (EBUSY)."""


class SchemaError(Error, TypeError):
    """Types, shapes or record sizes do not match (h5tier.ESCHEMA)."""


class LappedError(Error):
    """The writer overwrote records this reader was looking at (ELAPPED): a
    view's data is discarded, the loss is counted, the reader has resynced."""


class GoneError(Error):
    """The requested sequence number is no longer in the ring (EGONE)."""


class DeadWriterError(Error):
    """The ring's writer process died (EDEADWRITER); records it published were
    all returned first."""


class Timeout(Error, TimeoutError):
    """Nothing arrived within the timeout."""


_CLASSES = {_errno.ENOENT: NotFoundError, _errno.EEXIST: ExistsError, _errno.EBUSY: BusyError,
            ESCHEMA: SchemaError, ELAPPED: LappedError, EGONE: GoneError, EDEADWRITER: DeadWriterError,
            _errno.ETIMEDOUT: Timeout, _errno.EAGAIN: Timeout}


def make_error(rc, what=None, message=None):
    """The exception for a negative return code rc, with h5tier_errmsg()
    (read now, in the failing thread) as its text."""
    code = -rc if rc < 0 else rc
    text = strerror(code).decode("utf-8", "replace")
    if message is None:
        message = errmsg().decode("utf-8", "replace") or text
    if what and what not in message:
        message = "%s: %s" % (what, message)
    return _CLASSES.get(code, Error)(code, message, text)


def check(rc, what=None):
    if rc < 0:
        raise make_error(rc, what)
    return rc


# HDF5 is not thread-safe; h5py serialises its calls with this lock and so do
# we around every libh5tier call that enters HDF5 (never around ring reads).
try:
    from h5py._objects import phil as hdf5_lock  # noqa: E402
except Exception:  # pragma: no cover
    hdf5_lock = threading.RLock()
