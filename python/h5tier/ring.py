"""Rings from Python: follow a live ring's streams as numpy arrays, write to
a ring from numpy arrays, create and remove rings.  See docs/python.md."""
import ctypes
import sys
import time

import numpy as np

from . import _lib
from ._lib import lib, check, make_error, hdf5_lock

_FROM = {"oldest": 0, "latest": 1}
_ZERO = ctypes.c_int(0)
MANUAL_RELEASE = 0x1
REPORT_LAPS = 0x2


def _b(s):
    return s.encode() if isinstance(s, str) else s


def _h5py():
    import h5py
    return h5py


def _attr_value(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.dtype.kind == "O":
        return [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in v.tolist()]
    return v


class Stream:
    """One stream of a ring: name ("events", "daq/events"), path in the ring file
    ("/events", "/daq/events"; ring["/daq/events"] finds it too), numpy
    dtype of one element (compound types become structured dtypes, array
    members subarrays), record shape, capacity, record size and attributes.
    record_dtype is the dtype of one whole record (dtype with the shape)."""

    def __init__(self, name, dtype, shape, capacity, record_size, attrs):
        self.name = name
        self.path = "/" + name
        self.dtype = dtype
        self.shape = tuple(shape)
        self.capacity = capacity
        self.record_size = record_size
        self.attrs = attrs
        self.record_dtype = np.dtype((dtype, self.shape)) if self.shape else dtype

    def __repr__(self):
        return "<h5tier.Stream %r dtype=%s shape=%s capacity=%d>" % (self.name, self.dtype, self.shape, self.capacity)


class Ring:
    """A ring in shared memory (/dev/shm/NAME).  Ring(name) reads its schema:
    ring.streams is a dict name -> Stream (in the ring's order), ring[name]
    one Stream.  ring.reader(...) follows a stream, ring.writer() attaches the
    writer, ring.info() gives the live state (tails, readers, tethers)."""

    def __init__(self, name):
        self.name = name
        info, sinfo = _ring_info(name)
        h5py = _h5py()
        with hdf5_lock:
            fid = lib.h5tier_ring_open_hdf5(_b(name))
            if fid < 0:
                raise make_error(fid, "ring '%s'" % name)
        f = h5py.File(h5py.h5f.FileID(fid))
        try:
            self.streams = {}
            for s in sinfo:
                sname = s["name"]
                ds = f[sname]
                self.streams[sname] = Stream(sname, ds.dtype, ds.shape[1:], s["capacity"], s["record_size"],
                                             {k: _attr_value(v) for k, v in ds.attrs.items()})
        finally:
            f.close()
        for st in self.streams.values():
            if st.record_dtype.itemsize != st.record_size:  # a type numpy cannot lay out like HDF5
                raise _lib.SchemaError(_lib.ESCHEMA, "ring '%s' stream '%s': numpy dtype %s is %d bytes but records "
                                       "are %d bytes" % (name, st.name, st.record_dtype, st.record_dtype.itemsize,
                                                         st.record_size))

    def __getitem__(self, stream):
        return self._stream(stream)

    def _stream(self, stream):
        if stream is None:
            return next(iter(self.streams.values()))
        try:
            return self.streams[stream[1:] if isinstance(stream, str) and stream.startswith("/") else stream]
        except KeyError:
            raise _lib.NotFoundError(2, "ring '%s': no stream '%s' (streams: %s)" %
                                     (self.name, stream, ", ".join(self.streams))) from None

    def __repr__(self):
        return "<h5tier.Ring %r streams=%s>" % (self.name, list(self.streams))

    def info(self):
        """The live state as a dict (ring_info: writer, generation, and per
        stream tail, oldest, readers, tethers)."""
        info, streams = _ring_info(self.name)
        info["streams"] = streams
        return info

    def reader(self, stream=None, start="latest", **kw):
        """A Reader of `stream` (None = the first).  See Reader."""
        return Reader(self, stream, start=start, **kw)

    def writer(self, **kw):
        """Attach as the ring's writer.  See Writer."""
        return Writer(self, **kw)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _ring_info(name):
    info = _lib.RingInfo()
    streams = (_lib.StreamInfo * _lib.RING_MAX_STREAMS)()
    check(_lib.ring_info(_b(name), ctypes.byref(info), streams, _lib.RING_MAX_STREAMS), "ring '%s'" % name)
    d = {"name": info.name.decode("utf-8", "replace"), "version": info.version, "generation": info.generation,
         "writer_pid": info.writer_pid, "writer_alive": bool(info.writer_alive),
         "heartbeat_age_s": info.heartbeat_age_s, "size": info.size}
    out = []
    for i in range(min(info.nstreams, _lib.RING_MAX_STREAMS)):
        s = streams[i]
        out.append({
            "name": s.name.decode("utf-8", "replace"), "record_size": s.record_size, "capacity": s.capacity,
            "tail": s.tail, "oldest": s.oldest, "waiters": s.waiters,
            "readers": [{"pid": r.pid, "alive": bool(r.alive), "tethered": bool(r.tethered), "position": r.position,
                         "records": r.records, "lost": r.lost, "laps": r.laps}
                        for r in s.readers[:min(s.nreaders, _lib.RING_MAX_READERS)]],
            "tethers": [{"name": t.name.decode("utf-8", "replace"), "pid": t.pid, "alive": bool(t.alive),
                         "position": t.position, "lag": s.tail - t.position}
                        for t in s.tethers[:min(s.ntethers, _lib.RING_MAX_TETHERS)]],
        })
    return d, out


# ---- numpy dtype -> the --dtype grammar ----------------------------------------------

def dtype_spec(dtype):
    """The ring type spec (the --dtype grammar of h5tier_ring_stream_from_dtype)
    for a numpy dtype: integers and floats of 1-8 bytes in either byte order,
    structured dtypes (packed, named fields), subarrays.  Raises TypeError for
    anything the grammar cannot express."""
    dt = np.dtype(dtype)
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        return _shape(dtype_spec(base), shape)
    if dt.names is not None:
        off = 0
        parts = []
        for n in dt.names:
            fdt, foff = dt.fields[n][:2]
            if foff != off or not n.replace("_", "a").isalnum():
                raise TypeError("dtype %s: field '%s' cannot be expressed in a ring type spec (fields must be "
                                "packed in order, names [A-Za-z0-9_])" % (dt, n))
            if fdt.subdtype is not None:
                parts.append("%s:%s" % (n, _shape(dtype_spec(fdt.subdtype[0]), fdt.subdtype[1])))
            else:
                parts.append("%s:%s" % (n, dtype_spec(fdt)))
            off += fdt.itemsize
        if off != dt.itemsize:
            raise TypeError("dtype %s has padding; ring records are packed" % dt)
        return "{" + ",".join(parts) + "}"
    if dt.kind in "iuf" and dt.itemsize in ((4, 8) if dt.kind == "f" else (1, 2, 4, 8)):
        order = ">" if dt.byteorder == ">" or (dt.byteorder == "=" and np.little_endian is False) else ""
        return "%s%s%d" % (order, dt.kind, dt.itemsize)
    raise TypeError("dtype %s: ring streams take i1..i8, u1..u8, f4, f8, structured dtypes and subarrays" % dt)


def _shape(spec, shape):
    return spec + "[" + ",".join(str(int(n)) for n in shape) + "]" if shape else spec


def create(name, streams, mode=0o600, force=False):
    """Create ring NAME.  streams maps stream name -> (type, capacity), type
    being a numpy dtype (record shape as a subarray: np.dtype(("u2", (4, 4))))
    or a type spec string ("{seq:u8,adc:u2[16]}"); capacity a power of two.
    Returns the Ring."""
    specs = (_lib.StreamSpec * len(streams))()
    made = 0
    try:
        for i, (sname, (typ, capacity)) in enumerate(streams.items()):
            text = typ if isinstance(typ, str) else dtype_spec(typ)
            with hdf5_lock:
                rc = _lib.ring_stream_from_dtype(ctypes.byref(specs[i]), _b(sname), _b(text), int(capacity))
            check(rc, "ring '%s' stream '%s'" % (name, sname))
            made = i + 1
        with hdf5_lock:
            rc = _lib.ring_create(_b(name), specs, len(streams), mode, 1 if force else 0)
        check(rc, "ring '%s'" % name)
    finally:
        with hdf5_lock:
            for i in range(made):
                _lib.ring_stream_spec_free(ctypes.byref(specs[i]))
    return Ring(name)


def remove(name, force=False):
    """Unlink ring NAME (BusyError while a live writer has it, unless force)."""
    check(_lib.ring_remove(_b(name), 1 if force else 0), "ring '%s'" % name)


# ---- reader -----------------------------------------------------------------------------

class Batch(np.ndarray):
    """A numpy array of consecutive records with first_seq, the sequence
    number of record 0 (record k has first_seq + k); seqs gives them all."""

    first_seq = 0

    @property
    def seqs(self):
        return np.arange(self.first_seq, self.first_seq + len(self), dtype=np.uint64)


def _batch(arr, first_seq):
    b = arr.view(Batch)
    b.first_seq = first_seq
    return b


class _ReaderHandle:
    """Owns a C reader handle: closes it when the last reference goes.  The
    Reader and every zero-copy view's memory hold one, so the ring's mapping
    outlives any view a caller kept after closing the reader (reading such a
    view is still a mistake -- its records may be overwritten -- but never a
    crash)."""

    __slots__ = ("h",)

    def __init__(self, h):
        self.h = h

    def __del__(self):
        h, self.h = self.h, None
        if h:
            try:
                _lib.ring_reader_close(h)
            except Exception:
                pass


class Reader:
    """A reader of one stream.

    start     "latest" (records put from now on), "oldest" (the oldest still in
              the ring) or a sequence number (GoneError if already overwritten)
    batch     records per read (default 1024; records of 1 MiB and more: 16)
    timeout   seconds a read waits (None = forever); iteration stops when it
              expires with nothing new, and when the writer died
    copy      True: batches are private copies (default).  False: iteration
              yields zero-copy read-only views into the ring, each validated
              when the next one is asked for (see view())
    tether    a name: a lossless reader (the writer waits for it)
    manual_release  with a tether: release() moves the tether, not reads
    report_laps     raise LappedError once when lapped instead of skipping
    dead_after      seconds of stale writer heartbeat that count as dead

    Reads return Batch arrays (numpy arrays with .first_seq) whose shape is
    (n,) + record shape and dtype the stream's dtype.  A jump in first_seq
    means records were lost (lapped by the writer); .lost counts them.
    """

    def __init__(self, ring, stream=None, start="latest", batch=None, timeout=None, copy=True, tether=None,
                 manual_release=False, report_laps=False, dead_after=None, batch_wait_ns=None):
        self._h = None
        self._hold = None
        self._view_pending = False
        if not isinstance(ring, Ring):
            ring = Ring(ring)
        self.ring = ring
        opts = _lib.ReaderOpts()
        _lib.ring_reader_opts_init(ctypes.byref(opts))
        if isinstance(start, str):
            if start not in _FROM:
                raise ValueError("start must be 'oldest', 'latest' or a sequence number, not %r" % start)
            opts.from_ = _FROM[start]
        else:
            opts.from_ = 2
            opts.seq = int(start)
        self._tether = _b(tether) if tether else None
        opts.tether = self._tether
        opts.flags = (MANUAL_RELEASE if manual_release else 0) | (REPORT_LAPS if report_laps else 0)
        if dead_after is not None:
            opts.dead_after_ms = int(dead_after * 1000)
        if batch_wait_ns is not None:
            opts.batch_wait_ns = int(batch_wait_ns)
        h = ctypes.c_void_p()
        self._h = None
        # the library resolves the stream (its message lists the streams of the ring)
        rc = _lib.ring_reader_open(_b(ring.name), _b(stream) if stream is not None else None, ctypes.byref(opts),
                                   ctypes.byref(h))
        if rc < 0:
            raise make_error(rc, "ring '%s'" % ring.name)
        self._hold = _ReaderHandle(h)
        self._h = h
        self.stream = st = ring._stream(_lib.ring_reader_stream(h).decode("utf-8", "replace"))
        self.batch = int(batch) if batch else (16 if st.record_size >= (1 << 20) else 1024)
        self.timeout = timeout
        self.copy = copy
        self._seq = ctypes.c_uint64()
        self._pseq = ctypes.byref(self._seq)
        self._ptr = ctypes.c_void_p()
        self._pptr = ctypes.byref(self._ptr)
        self._rdt = st.record_dtype
        self._rs = st.record_size
        self._area = None       # numpy array over the stream's whole data area (read-only mapping)
        self._area_base = 0
        self._arena = None      # see _slot()
        self._arena_m = 0
        self._arena_ptr = None
        self._view_m = 0

    # -- lifetime
    def close(self):
        """Close the reader (frees its statistics slot; a tether stays)."""
        if self._h:
            if self._view_pending:
                self._view_pending = False
                _lib.ring_view_done(self._h)
            self._area = None
            self._h = None
            self._hold = None   # closes the C reader now, or when the last view kept by the caller goes

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _handle(self):
        if not self._h:
            raise ValueError("h5tier reader of ring '%s' is closed" % self.ring.name)
        return self._h

    def _wait(self, call, timeout):
        """Run call(ms) until it returns records, slicing long waits so that
        Ctrl-C (KeyboardInterrupt) is seen; returns its count or raises."""
        if timeout is None:
            deadline = None
        else:
            deadline = time.monotonic() + timeout
        ms = 0 if timeout is not None and timeout <= 0 else 250
        while True:
            if deadline is not None and ms:
                left = deadline - time.monotonic()
                ms = max(0, min(250, int(left * 1000 + 0.999)))
            n = call(ms)
            if n >= 0:
                return n
            if n in (-4, -110):   # EINTR, ETIMEDOUT: let signal handlers run, then wait on
                if deadline is None or time.monotonic() < deadline:
                    continue
            raise make_error(n, "ring '%s' stream '%s'" % (self.ring.name, self.stream.name))

    # -- copy-out reads
    def _slot(self, m):
        """The buffer for the next batch of m records: the previous batch's
        buffer when no batch of it is alive any more (a reader whose batches
        are dropped after use reuses one cache-hot buffer), else a new numpy
        array.  Returns the ctypes pointer to it."""
        if m != self._arena_m:
            self._arena_m = m
            self._cm = ctypes.c_size_t(m)
            self._csize = ctypes.c_size_t(m * self._rs)
            self._arena = None
        if self._arena is None or sys.getrefcount(self._arena) > 2:   # a batch of it is still alive
            self._arena = np.empty(m, self._rdt)
            self._arena_ptr = ctypes.c_void_p(self._arena.__array_interface__["data"][0])
        return self._arena_ptr

    def read(self, max=None, timeout=None, out=None):
        """Copy the next records out: a Batch of 1..max records (max defaults
        to .batch).  Waits up to timeout seconds (None = the reader's timeout;
        -1 = forever; 0 = do not wait) and raises h5tier.Timeout when nothing
        came, DeadWriterError when the writer died and everything it wrote
        was read.  out: an array to fill instead of a new one (its first n
        records are filled; the returned Batch is a view of them)."""
        h = self._h
        if not h:
            self._handle()
        if self._view_pending:
            self.view_done()
        if timeout is None:
            timeout = self.timeout
        elif timeout == -1:
            timeout = None
        m = max or self.batch
        if out is None:
            ptr, off = self._slot(m), 0
            cm, csize = self._cm, self._csize
            arr = self._arena
        else:
            if out.dtype != self.stream.dtype or out.shape[1:] != self.stream.shape or not out.flags.c_contiguous:
                raise _lib.SchemaError(_lib.ESCHEMA, "out: expected a C-contiguous array of %s records of shape %s, "
                                       "got %s %s" % (self.stream.dtype, self.stream.shape, out.dtype, out.shape))
            if not out.flags.writeable:
                raise ValueError("out: the array is read-only")
            m = min(m, len(out))
            ptr, off = ctypes.c_void_p(out.__array_interface__["data"][0]), 0
            cm, csize = ctypes.c_size_t(m), ctypes.c_size_t(m * self._rs)
            arr = out
        nm = _lib.raw.h5tier_ring_next_many
        pseq = self._pseq
        n = nm(h, ptr, cm, csize, pseq, _ZERO)
        if n < 0:
            if n != -11 or timeout == 0:
                if n == -11:
                    raise make_error(-110, "ring '%s' stream '%s'" % (self.ring.name, self.stream.name),
                                     "ring '%s' stream '%s': no new record" % (self.ring.name, self.stream.name))
                raise make_error(n, "ring '%s' stream '%s'" % (self.ring.name, self.stream.name))
            n = self._wait(lambda ms: nm(h, ptr, cm, csize, pseq, ctypes.c_int(ms)), timeout)
        b = arr[off:off + n].view(Batch)
        b.first_seq = self._seq.value
        return b

    # -- zero-copy views
    def view(self, max=None, timeout=None):
        """A zero-copy, read-only Batch of 1..max records in the ring's own
        memory (never across the end of the stream's data area).  Use it, then
        call view_done() (or use `with reader.view() as v:`): it raises
        LappedError if the writer may have overwritten the records meanwhile,
        in which case whatever was computed from them must be discarded.
        Never keep a view after view_done: its memory is the ring's."""
        h = self._handle()
        if self._view_pending:
            self.view_done()
        if timeout is None:
            timeout = self.timeout
        elif timeout == -1:
            timeout = None
        m = max or self.batch
        pptr, pseq = self._pptr, self._pseq
        if m != self._view_m:
            self._view_m, self._view_cm = m, ctypes.c_size_t(m)
        cm = self._view_cm
        view = _lib.raw.h5tier_ring_view
        n = view(h, pptr, cm, pseq, _ZERO)
        if n < 0:
            if n != -11 or timeout == 0:
                if n == -11:
                    raise make_error(-110, "ring '%s' stream '%s'" % (self.ring.name, self.stream.name),
                                     "ring '%s' stream '%s': no new record" % (self.ring.name, self.stream.name))
                raise make_error(n, "ring '%s' stream '%s'" % (self.ring.name, self.stream.name))
            n = self._wait(lambda ms: view(h, pptr, cm, pseq, ctypes.c_int(ms)), timeout)
        self._view_pending = True
        first = self._seq.value
        slot = first % self.stream.capacity
        ptr = self._ptr.value
        if self._area is None or ptr != self._area_base + slot * self._rs:
            base = ptr - slot * self._rs
            raw = (ctypes.c_char * (self._rs * self.stream.capacity)).from_address(base)
            raw.h5tier_handle = self._hold      # the mapping lives as long as any view of it
            # a read-only buffer: the mapping is read-only (a write would fault) and numpy
            # refuses to make views of a read-only buffer writeable
            area = np.frombuffer(memoryview(raw).cast("B").toreadonly(), dtype=self._rdt)
            self._area, self._area_base = area, base
        v = self._area[slot:slot + n].view(View)
        v.first_seq = first
        v._reader = self
        return v

    def view_done(self):
        """Finish the pending view: returns None if its records were intact
        all along, raises LappedError if they may have been overwritten."""
        if not self._view_pending:
            return
        self._view_pending = False
        rc = _lib.ring_view_done(self._handle())
        if rc < 0:
            raise make_error(rc, "ring '%s' stream '%s'" % (self.ring.name, self.stream.name),
                             "ring '%s' stream '%s': the viewed records were overwritten by the writer while in use; "
                             "discard what was computed from them" % (self.ring.name, self.stream.name))

    # -- iteration
    def __iter__(self):
        """Yield batches until the reader's timeout passes with nothing new or
        the writer dies.  With copy=False the batches are views, each checked
        (view_done) when the next is asked for: a LappedError then means the
        previous batch was overwritten while in use."""
        while True:
            try:
                if self.copy:
                    yield self.read()
                else:
                    with self.view() as v:
                        yield v
            except (_lib.Timeout, _lib.DeadWriterError):
                return

    # -- position and statistics
    def stats(self):
        """dict: position (next seq), records returned, lost, laps, tail, generation."""
        s = _lib.ReaderStats()
        _lib.ring_reader_stats(self._handle(), ctypes.byref(s))
        return {k: getattr(s, k) for k, _ in _lib.ReaderStats._fields_ if not k.startswith("_")}

    @property
    def lost(self):
        """Records this reader lost because the writer lapped it."""
        return self.stats()["lost"]

    @property
    def position(self):
        return self.stats()["position"]

    def seek(self, seq):
        check(_lib.ring_reader_seek(self._handle(), int(seq)), "ring '%s'" % self.ring.name)

    def release(self, upto):
        """Tethered reader with manual_release: let the writer overwrite every
        record below `upto`."""
        check(_lib.ring_reader_release(self._handle(), int(upto)), "ring '%s'" % self.ring.name)


class View(Batch):
    """A zero-copy Batch (read-only, in the ring's memory).  As a context
    manager, leaving the block validates it (reader.view_done(): LappedError
    if the writer may have overwritten it meanwhile, unless the block raised
    itself)."""

    _reader = None

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self._reader.view_done()
        else:
            try:
                self._reader.view_done()
            except _lib.LappedError:
                pass
        return False


# ---- writer ------------------------------------------------------------------------------

class Writer:
    """The ring's writer (one per ring).  put(stream, record) and
    put_many(stream, records) take numpy arrays of exactly the stream's dtype
    and record shape (SchemaError otherwise); lists, tuples and numbers are
    converted to it.  Closing detaches (readers then wait for a new writer).

    tether_timeout  seconds a put waits for a slow tethered reader (-1 forever)
    drop_dead_tethers  ignore tethers of dead processes
    """

    def __init__(self, ring, tether_timeout=None, drop_dead_tethers=False):
        self._h = None
        if not isinstance(ring, Ring):
            ring = Ring(ring)
        self.ring = ring
        opts = _lib.WriterOpts()
        _lib.ring_writer_opts_init(ctypes.byref(opts))
        if tether_timeout is not None:
            opts.tether_timeout_ms = -1 if tether_timeout < 0 else int(tether_timeout * 1000)
        opts.flags = 1 if drop_dead_tethers else 0
        h = ctypes.c_void_p()
        check(_lib.ring_open_writer(_b(ring.name), ctypes.byref(opts), ctypes.byref(h)), "ring '%s'" % ring.name)
        self._h = h
        self._index = {}
        for i, sname in enumerate(ring.streams):
            self._index[sname] = i

    def _s(self, stream):
        if stream is None:
            return 0, next(iter(self.ring.streams.values()))
        if stream not in self._index:  # the library's message lists the streams
            check(_lib.ring_stream_index(self._handle(), _b(stream)), "ring '%s'" % self.ring.name)
        return self._index[stream], self.ring.streams[stream]

    def _records(self, st, data, many):
        want = ((-1,) if many else ()) + st.shape
        if isinstance(data, np.ndarray):
            arr = data
            if arr.dtype != st.dtype:
                raise _lib.SchemaError(_lib.ESCHEMA, "ring '%s' stream '%s': records must have dtype %s, got %s"
                                       % (self.ring.name, st.name, st.dtype, arr.dtype))
        elif isinstance(data, np.void) and data.dtype == st.dtype:
            arr = np.asarray(data)
        else:
            try:
                arr = np.asarray(data, dtype=st.dtype)
            except (TypeError, ValueError) as e:
                raise _lib.SchemaError(_lib.ESCHEMA, "ring '%s' stream '%s': cannot make records of dtype %s from "
                                       "%r: %s" % (self.ring.name, st.name, st.dtype, type(data).__name__, e)) from None
        shape_ok = arr.shape[1:] == st.shape if many else arr.shape == st.shape
        if many and arr.ndim == len(st.shape):  # a single record given to put_many
            shape_ok = False
        if not shape_ok:
            raise _lib.SchemaError(_lib.ESCHEMA, "ring '%s' stream '%s': %s must have shape %s, got %s"
                                   % (self.ring.name, st.name, "records" if many else "a record",
                                      "(n, %s)" % ", ".join(map(str, st.shape)) if many and st.shape else
                                      ("(n,)" if many else str(st.shape)), arr.shape))
        return np.ascontiguousarray(arr)

    def put(self, stream, record):
        """Put one record; returns its sequence number."""
        s, st = self._s(stream)
        arr = self._records(st, record, False)
        seq = _lib.ring_tail(self._handle(), s)
        check(_lib.ring_put(self._h, s, arr.__array_interface__["data"][0], st.record_size),
              "ring '%s' stream '%s'" % (self.ring.name, st.name))
        return seq

    def put_many(self, stream, records):
        """Put records (an array of shape (n,) + record shape) with one
        publication per batch; returns the sequence number of the first."""
        s, st = self._s(stream)
        arr = self._records(st, records, True)
        seq = _lib.ring_tail(self._handle(), s)
        if len(arr):
            check(_lib.ring_put_many(self._h, s, arr.__array_interface__["data"][0], len(arr), st.record_size),
                  "ring '%s' stream '%s'" % (self.ring.name, st.name))
        return seq

    def tail(self, stream=None):
        """The sequence number the next put of `stream` gets."""
        s, _ = self._s(stream)
        return _lib.ring_tail(self._handle(), s)

    def heartbeat(self):
        _lib.ring_heartbeat(self._handle())

    def _handle(self):
        if not self._h:
            raise ValueError("h5tier writer of ring '%s' is closed" % self.ring.name)
        return self._h

    def close(self):
        if self._h:
            _lib.ring_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
