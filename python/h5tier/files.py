"""HDF5 files in shared memory through h5py (the h5tier_shm driver),
persisting chosen objects to disk, and archiving rings."""
import ctypes
import os
import threading

from . import _lib
from ._lib import check, make_error, hdf5_lock


def _b(s):
    return os.fsencode(s) if isinstance(s, (str, os.PathLike)) else s


def _shm_exists(name):
    info = _lib.ShmInfo()
    return _lib.shm_info(_b(name), ctypes.byref(info)) == 0


def shm_fapl(name, backing=None, increment=None, page_size=None, unlink_on_close=False, mode=None,
             persist_on_flush=True, populate=True):
    """An h5py file access property list (h5py.h5p.PropFAID) that puts the
    file's bytes in shm object NAME through the h5tier_shm driver."""
    import h5py
    cfg = _lib.ShmConfig()
    _lib.shm_config_init(ctypes.byref(cfg))
    nb = _b(name)
    if len(nb) >= 256:
        raise ValueError("shm name too long: %r" % name)
    cfg.name = nb
    if backing is not None:
        bb = _b(os.path.abspath(backing))
        if len(bb) >= 4096:
            raise ValueError("backing file path too long: %r" % backing)
        cfg.backing_file = bb
    if increment:
        cfg.increment = int(increment)
    if page_size:
        cfg.page_size = int(page_size)
    if unlink_on_close:
        cfg.on_close = 1
    if mode is not None:
        cfg.mode = mode
    if not persist_on_flush:
        cfg.flags |= 0x4
    if not populate:
        cfg.flags &= ~(0x1 | 0x8)
    with hdf5_lock:
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        rc = _lib.H5Pset_fapl_shm(fapl.id, ctypes.byref(cfg))
        if rc < 0:
            raise make_error(-22, "shm '%s'" % name)   # bad name, page size or version: EINVAL
        fapl.set_fclose_degree(h5py.h5f.CLOSE_STRONG)
    return fapl


def shm_file(name, mode="r", backing=None, swmr=False, **kw):
    """An h5py.File whose bytes live in POSIX shared memory /dev/shm/NAME,
    opened through h5tier's shm driver (growth without copies, SWMR, an
    optional backing file on disk that is loaded when the shm object does not
    exist yet and written back, page by page through a journal, on flush and
    close).

    mode   'r', 'r+', 'w' (create, truncating), 'w-' or 'x' (create, fail if
           it exists), 'a' (open read-write, create if missing)
    swmr   with 'r': open for SWMR reading (follow a writer: ds.refresh());
           with a write mode: the file gets the latest format so that
           f.swmr_mode = True can start SWMR writing
    kw     increment, page_size, unlink_on_close, mode (permissions),
           persist_on_flush, populate: see h5tier_shm_config_t
    """
    import h5py
    perm = kw.pop("perm", None)
    fapl = shm_fapl(name, backing=backing, mode=perm, **kw)
    fname = b"shm:" + _b(name)
    what = "shm '%s'" % name
    if mode not in ("r", "r+", "w", "w-", "x", "a"):
        raise ValueError("mode must be 'r', 'r+', 'w', 'w-', 'x' or 'a', not %r" % mode)
    if swmr and mode != "r":
        fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    exists = _shm_exists(name) or (backing is not None and os.path.exists(backing))
    if mode == "a":
        mode = "r+" if exists else "w-"
    if mode in ("r", "r+") and not exists:
        info = _lib.ShmInfo()
        rc = _lib.shm_info(_b(name), ctypes.byref(info))     # the library says why (and where it looked)
        raise make_error(rc if rc < 0 else -2, what + (" (and no backing file %s)" % backing if backing else ""))
    try:
        with hdf5_lock:
            if mode == "r":
                flags = h5py.h5f.ACC_RDONLY | (h5py.h5f.ACC_SWMR_READ if swmr else 0)
                fid = h5py.h5f.open(fname, flags, fapl=fapl)
            elif mode == "r+":
                fid = h5py.h5f.open(fname, h5py.h5f.ACC_RDWR, fapl=fapl)
            else:
                if mode in ("w-", "x") and _shm_exists(name):
                    raise _lib.ExistsError(17, "%s: the shm object exists (use mode 'w' to replace it)" % what)
                flag = h5py.h5f.ACC_TRUNC if mode == "w" else h5py.h5f.ACC_EXCL
                fid = h5py.h5f.create(fname, flag, fapl=fapl)
    except _lib.Error:
        raise
    except Exception as e:
        msg = _lib.errmsg().decode("utf-8", "replace")
        raise _lib.Error(_lib.EHDF5, "%s: %s" % (what, msg or e)) from e
    return h5py.File(fid)


def shm_info(name):
    """dict describing shm object NAME (size, eof, writer, backing file...)."""
    info = _lib.ShmInfo()
    check(_lib.shm_info(_b(name), ctypes.byref(info)), "shm '%s'" % name)
    return {"name": info.name.decode("utf-8", "replace"), "size": info.size, "eof": info.eof, "owner": info.owner,
            "mode": info.mode, "writer_pid": info.writer_pid, "writer_alive": bool(info.writer_alive),
            "generation": info.generation, "is_hdf5": bool(info.is_hdf5), "has_control": bool(info.has_control),
            "backing_file": info.backing_file.decode("utf-8", "replace"),
            "control_ignored": bool(info.control_ignored),
            "control_note": info.control_note.decode("utf-8", "replace")}


def shm_remove(name, force=False):
    """Unlink shm object NAME and its control object."""
    check(_lib.shm_remove(_b(name), 1 if force else 0), "shm '%s'" % name)


_KEYS = ("compact_below", "contiguous_max", "chunk_bytes", "compress_level", "memory")


def persist(src, dst, objects=None, force=False, dry_run=False, keep_growable=False, earliest_format=False,
            **kw):
    """Persist objects of `src` (an h5py File or Group, a file path, or
    "shm:NAME" for a shm object) into a new HDF5 file `dst`, giving each
    dataset the layout its final extent deserves (see h5tier_persist.h),
    atomically.  objects: paths to persist (default everything).  kw:
    compact_below, contiguous_max, chunk_bytes, compress_level, memory.
    Returns the plan: one dict per object (path, kind, layout, dims, chunk,
    bytes, type, reason, ...)."""
    import h5py
    close = None
    if isinstance(src, (str, os.PathLike)):
        s = os.fspath(src)
        close = shm_file(s[4:], "r") if s.startswith("shm:") else h5py.File(s, "r")
        src = close
    for k in kw:
        if k not in _KEYS:
            raise TypeError("persist() got an unexpected keyword argument %r" % k)
    opts = _lib.PersistOpts()
    _lib.persist_opts_init(ctypes.byref(opts))
    keep = []
    if objects is not None:
        if isinstance(objects, (str, bytes)):
            objects = [objects]
        arr = (ctypes.c_char_p * len(objects))(*[_b(o) for o in objects])
        keep.append(arr)
        opts.objects = arr
        opts.nobjects = len(objects)
    for k, v in kw.items():
        setattr(opts, k, int(v))
    opts.force = 1 if force else 0
    opts.dry_run = 1 if dry_run else 0
    opts.keep_growable = 1 if keep_growable else 0
    opts.earliest_format = 1 if earliest_format else 0
    plans = []
    errors = []

    def on_plan(p, arg):
        try:
            p = p.contents
            r = p.rank
            d = lambda s: s.decode("utf-8", "replace") if s else None  # noqa: E731
            plans.append({"path": d(p.path), "kind": d(_lib.persist_kind_name(p.kind)),
                          "layout": d(_lib.persist_layout_name(p.layout)), "rank": r,
                          "dims": tuple(p.dims[:max(r, 0)]), "maxdims": tuple(p.maxdims[:max(r, 0)]),
                          "chunk": tuple(p.chunk[:max(r, 0)]) if p.layout == 3 else None, "bytes": p.bytes,
                          "type": d(p.type), "compress_level": p.compress_level, "shuffle": bool(p.shuffle),
                          "reason": d(p.reason), "source": d(p.source), "target": d(p.target)})
        except Exception as e:  # never let an exception cross into C
            errors.append(e)
            return 1
        return 0

    cb = _lib.PLAN_CB(on_plan)
    opts.plan_cb = cb
    try:
        with hdf5_lock:
            rc = _lib.persist(src.id.id, _b(dst), ctypes.byref(opts))
            if rc < 0:
                err = make_error(rc, "persist to '%s'" % os.fspath(dst))
        if errors:
            raise errors[0]
        if rc < 0:
            raise err
    finally:
        if close is not None:
            close.close()
    return plans


def archive(ring, out, streams=None, lossless=False, tether=None, keep_tether=False, count=0, duration=0,
            idle_timeout=0, flush_interval=0, chunk_bytes=0, progress=None, mode=None):
    """Archive streams of `ring` (all by default) into the HDF5 file `out`
    (created or continued: see h5tier_archive.h) until count records,
    duration seconds, idle_timeout seconds without a record, the writer's
    death, or Ctrl-C (which stops it cleanly).  lossless: a tethered reader
    the writer waits for.  progress(stats) is called about once a second.
    mode: permissions of a new archive file (libraries that support it;
    default 0600).  Returns the run's statistics as a dict (records, bytes,
    lost_records, lost_ranges, lag, seconds, writer_dead, ...)."""
    from .ring import Ring
    name = ring.name if isinstance(ring, Ring) else ring
    opts = _lib.ArchiverOpts()
    _lib.archiver_opts_init(ctypes.byref(opts))
    keep = []
    if streams is not None:
        if isinstance(streams, str):
            streams = [streams]
        arr = (ctypes.c_char_p * len(streams))(*[_b(s) for s in streams])
        keep.append(arr)
        opts.streams = arr
        opts.nstreams = len(streams)
    opts.lossless = 1 if lossless else 0
    if tether:
        keep.append(_b(tether))
        opts.tether = keep[-1]
    opts.keep_tether = 1 if keep_tether else 0
    opts.count = int(count)
    opts.duration_s = float(duration)
    opts.idle_timeout_s = float(idle_timeout)
    opts.flush_interval_s = float(flush_interval)
    opts.chunk_bytes = int(chunk_bytes)
    if mode is not None:
        if not _lib.ARCHIVER_HAS_MODE:
            raise TypeError("archive(mode=...): this libh5tier (%s) does not take archive permissions" % _lib.lib_path)
        opts.mode = int(mode)
    stop = ctypes.c_int(0)
    opts.stop = ctypes.pointer(stop)

    def tostats(s):
        return {k: getattr(s, k) for k, _ in _lib.ArchiverStats._fields_ if not k.startswith("_")}

    if progress is not None:
        def on_progress(sp, arg):
            try:
                progress(tostats(sp.contents))
            except Exception:
                pass
        cb = _lib.ARCH_PROGRESS_CB(on_progress)
        opts.progress = cb
        keep.append(cb)
    stats = _lib.ArchiverStats()
    result = {}

    def run():
        # the archiver is HDF5 from start to end: hold h5py's lock meanwhile
        with hdf5_lock:
            rc = _lib.archive_ring(_b(name), _b(out), ctypes.byref(opts), ctypes.byref(stats))
            result["rc"] = rc
            if rc < 0:
                result["err"] = make_error(rc, "archive of ring '%s' into '%s'" % (name, os.fspath(out)))

    t = threading.Thread(target=run, name="h5tier-archive", daemon=True)
    t.start()
    try:
        while t.is_alive():
            t.join(0.2)
    except KeyboardInterrupt:
        stop.value = 1
        t.join()
    if "err" in result:
        raise result["err"]
    return tostats(stats)
