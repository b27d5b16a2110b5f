/*
 * h5tier_archive.h -- the disk side of a ring: an append-only HDF5 archive
 * with the same schema as the ring's streams ("tail flush").
 *
 * For each stream the archive file holds, at the SAME path as in the ring:
 *
 *   PATH        the records: same file type, same per-record shape, same
 *               attributes as the ring's dataset; shape (N, *record_shape),
 *               first dimension unlimited, chunked (about 1 MiB per chunk)
 *   PATH_seq    uint64 (N,): the ring sequence number of each record, so
 *               gaps are visible (numpy: np.diff(f["PATH_seq"]) != 1)
 *   PATH_lost   compound {first, last} uint64 (M,): ranges of sequence
 *               numbers the archiver knows it lost (lossy mode, lapped by
 *               the writer).  Empty in lossless mode.
 *
 * e.g. a ring stream "/events" gives "/events", "/events_seq" and
 * "/events_lost"; in Python:
 *
 *     f = h5py.File("out.h5", "r", swmr=True)
 *     n = len(f["events_seq"])          # complete records (see below)
 *     ev, seq = f["events"][:n], f["events_seq"][:n]
 *
 * PATH_seq and PATH_lost carry a string attribute "h5tier_records" naming
 * PATH.  The root group carries "h5tier_archiver" (uint64 [pid, start time]
 * of the last archiver process) used to refuse two archivers on one file.
 *
 * Write order: records are written first, then their sequence numbers, then
 * both datasets are flushed.  So len(PATH_seq) <= len(PATH) at every instant
 * and len(PATH_seq) is the number of complete records.  On open, an archive
 * whose two lengths differ (an archiver killed between the two writes) is
 * trimmed to the shorter one (and to the strictly increasing part of
 * PATH_seq's tail, in case its extent reached the file before its data);
 * h5tier_archive_stream_info() then tells where
 * to resume: after the last archived record or lost range.  No record is
 * archived twice: appends must carry sequence numbers above everything
 * already archived.
 *
 * The file is created with the latest format and opened in SWMR-write mode:
 * other processes read it while it grows (H5F_ACC_SWMR_READ, H5Drefresh;
 * h5py: swmr=True, ds.refresh()).  Full chunks are written directly
 * (H5Dwrite_chunk, as h5cpp's h5::append does) from a one-chunk buffer per
 * stream; a partial last chunk is written with H5Dwrite at flush and
 * rewritten whole when it fills.
 *
 * An archiver that was killed leaves the superblock's "open for write"
 * flags set and its end-of-file address stale; h5tier_archive_open() sees
 * that the recorded archiver is dead, repairs both (what `h5clear -s
 * --increment=0` does) and continues.
 *
 * Not thread-safe: one thread uses an archive at a time.  Do not fork with
 * an archive open.
 */
#ifndef H5TIER_ARCHIVE_H
#define H5TIER_ARCHIVE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "h5tier.h"

#ifdef __cplusplus
extern "C" {
#endif

#define H5TIER_ARCHIVE_SEQ_SUFFIX "_seq"
#define H5TIER_ARCHIVE_LOST_SUFFIX "_lost"
#define H5TIER_ARCHIVE_MAX_RANK 31 /* per-record rank (the dataset adds one) */

typedef struct h5tier_archive h5tier_archive_t;

/* One stream's schema.  Either like is a dataset (in any open file, e.g.
 * the ring's stream dataset) whose element type, per-record shape (its
 * dimensions after the first) and attributes are copied, or like is
 * H5I_INVALID_HID and type/rank/dims give the schema (no attributes). */
typedef struct h5tier_archive_stream_spec {
    const char *path;   /* dataset path in the archive, e.g. "/events" or "/det/img";
                           parent groups are created */
    hid_t like;         /* schema source dataset, or H5I_INVALID_HID */
    hid_t type;         /* element type when like is invalid (copied; caller keeps it) */
    int rank;           /* per-record rank when like is invalid, 0..H5TIER_ARCHIVE_MAX_RANK */
    hsize_t dims[H5TIER_ARCHIVE_MAX_RANK]; /* per-record dimensions */
    size_t chunk_bytes; /* target chunk size; 0 = 1 MiB.  A chunk holds
                           max(1, chunk_bytes / record size) records */
} h5tier_archive_stream_spec_t;

/* Flags for h5tier_archive_open */
#define H5TIER_ARCHIVE_CREATE 0x1u      /* create the file if it does not exist */
#define H5TIER_ARCHIVE_EXCL 0x2u        /* with CREATE: fail with -EEXIST if it exists */
#define H5TIER_ARCHIVE_PLAIN_WRITE 0x4u /* write full chunks with H5Dwrite instead of
                                           H5Dwrite_chunk (for comparisons) */
#define H5TIER_ARCHIVE_HAS_MODE 0x8u    /* bits 16..27 of flags hold the permissions of a new file */
/* Permissions of a new archive (default 0600): flags |= H5TIER_ARCHIVE_MODE(0640).  Read and
   write bits only; setuid, setgid, sticky or execute bits make the open fail with -EINVAL.
   The umask does not apply.  An existing archive keeps its permissions. */
#define H5TIER_ARCHIVE_MODE(m) (H5TIER_ARCHIVE_HAS_MODE | (((unsigned)(m) & 07777u) << 16))

/* Open (or create) an archive for nspecs streams (1..64).
 *
 * A new file gets every stream.  In an existing file, a stream whose PATH
 * exists must have the same element type (H5Tequal), the same per-record
 * shape and an unlimited first dimension, and PATH_seq / PATH_lost must be
 * well formed; a missing stream is added.  Lengths of PATH and PATH_seq are
 * reconciled (trimmed to the shorter) and the partial last chunk is loaded
 * so appends continue it.
 *
 * Returns 0 and *out, or:
 *   -EINVAL            bad arguments (NULL, nspecs 0 or > 64, empty path, a
 *                      path ending in a reserved suffix, bad rank, record size 0,
 *                      a mode with setuid/setgid/sticky/execute bits)
 *   -ENOENT            the file does not exist and CREATE is not set
 *   -EEXIST            CREATE|EXCL and the file exists
 *   -EBUSY             another live archiver process has the file open
 *   -H5TIER_ENOTHDF5   the file exists but is not an HDF5 file
 *   -H5TIER_ESCHEMA    an existing dataset has another type or record shape,
 *                      is not extendible, or PATH_seq/PATH_lost do not match
 *   -H5TIER_EHDF5      another HDF5 failure (see the HDF5 error stack)
 *   -EACCES            the new file cannot be created (directory not writable)
 *   -errno             from opening/locking the directory, open/pread/pwrite while
 *                      repairing a crashed file, the rename of a new file
 * A new file is created 0600 (or H5TIER_ARCHIVE_MODE(m) of flags) whatever
 * the umask, and built as "PATH.tmp-PID", fsynced and renamed once complete,
 * so a process killed while creating it leaves no half archive at PATH (but
 * may leave that temporary file, which the next open of PATH removes).
 * Adding a stream to an existing archive works the same way: PATH is copied
 * (permission bits kept) to "PATH.tmp-PID", the streams are added to the
 * copy, and the copy is renamed over PATH once in SWMR mode, so a kill at any
 * point leaves either the old archive or the new one, never a torn file.
 * Cost: one copy of the file (copy_file_range: a reflink sharing the
 * extents on XFS/btrfs, a copy of the bytes elsewhere, which needs free space
 * for it); opening an archive whose streams all exist copies nothing.  Readers that had PATH open
 * while a stream was added keep the old version: they must reopen.  The copy
 * belongs to the calling user (a different owner of PATH is not kept).
 * More errors when adding a stream: -ENOSPC and other -errno from copying
 * (open/fchmod/copy_file_range, or pread/pwrite where the kernel cannot
 * copy between the files), fsync of the copy, the rename; -EIO if the
 * file shrinks while it is copied.
 * h5tier_errmsg() names the file, the dataset and the reason. */
H5TIER_API int h5tier_archive_open(const char *path, const h5tier_archive_stream_spec_t *specs,
                                   size_t nspecs, unsigned flags, h5tier_archive_t **out);

/* What the archive holds for one stream. */
typedef struct h5tier_archive_stream_info_s { /* tag != function name: C++ -Wshadow */
    uint64_t records;       /* records archived (buffered ones included) */
    uint64_t written;       /* records written to the file (visible to readers,
                               survive a kill of this process) */
    int empty;              /* 1 if no record and no lost range yet */
    uint64_t first_seq;     /* seq of the first record (if records > 0) */
    uint64_t last_seq;      /* seq of the last record (if records > 0) */
    uint64_t next_seq;      /* where a follower resumes: 1 + the largest seq
                               archived or recorded lost; 0 if empty */
    uint64_t written_next;  /* the same counting only what is written: a tethered
                               ring reader may release records below it */
    uint64_t lost_ranges;   /* entries in PATH_lost */
    uint64_t lost_records;  /* records covered by them */
    size_t record_size;     /* bytes per record (in the file type) */
    size_t chunk_records;   /* records per chunk */
    uint64_t chunks_direct; /* full chunks written with H5Dwrite_chunk by this handle */
    uint64_t chunks_plain;  /* full chunks written with H5Dwrite by this handle */
} h5tier_archive_stream_info_t;

/* Fill *info for stream index `stream` (the order of the specs).
 * 0, or -EINVAL (bad handle or index). */
H5TIER_API int h5tier_archive_stream_info(h5tier_archive_t *a, size_t stream,
                                          h5tier_archive_stream_info_t *info);

/* Append n records (n * record_size bytes, in the file type's layout, i.e.
 * as they sit in the ring) with sequence numbers first_seq, first_seq+1, ...
 * Records are buffered up to a whole chunk, which is then written directly.
 * first_seq must be above every seq already archived or recorded lost.
 * 0, or -EINVAL (bad arguments, seq not increasing), -H5TIER_EHDF5, -errno. */
H5TIER_API int h5tier_archive_append(h5tier_archive_t *a, size_t stream, uint64_t first_seq,
                                     const void *records, size_t n);

/* Like h5tier_archive_append with an explicit, strictly increasing seq per record. */
H5TIER_API int h5tier_archive_append_seqs(h5tier_archive_t *a, size_t stream, const uint64_t *seqs,
                                          const void *records, size_t n);

/* Record that the records first..last (inclusive) were lost.  Buffered
 * records are written first so that the file never shows a lost range
 * after records that are not there yet.  A range that continues the last
 * one with no record in between extends it, so the lost ranges are exactly
 * the gaps of PATH_seq.  first must be above everything archived and
 * first <= last.  0, -EINVAL, -H5TIER_EHDF5. */
H5TIER_API int h5tier_archive_lost(h5tier_archive_t *a, size_t stream, uint64_t first, uint64_t last);

/* Write everything buffered (partial last chunks with H5Dwrite), then the
 * sequence numbers, and flush the datasets so SWMR readers and a later
 * open see them.  Data reaches the OS, not necessarily the disk: pass
 * durable = 1 to also H5Fflush + fsync (survives a machine crash).
 * 0, -H5TIER_EHDF5, -errno. */
H5TIER_API int h5tier_archive_flush(h5tier_archive_t *a, int durable);

/* Flush (as h5tier_archive_flush(a, 0)), close the file and free a.  Returns
 * the flush or close error; a is freed in every case.  NULL is a no-op. */
H5TIER_API int h5tier_archive_close(h5tier_archive_t *a);

/* The archive's HDF5 file id (owned by a; for reading only). */
H5TIER_API hid_t h5tier_archive_file(h5tier_archive_t *a);

/* ==== the archiver: follow ring streams into an archive ==================== */

typedef struct h5tier_archiver_stats {
    uint64_t records;      /* records archived by this run (all streams) */
    uint64_t bytes;        /* their bytes */
    uint64_t lost_records; /* records recorded lost by this run */
    uint64_t lost_ranges;  /* lost ranges recorded by this run */
    uint64_t lag;          /* records in the ring not yet archived (sum over streams), last seen */
    uint64_t unreleased;   /* lossless: records archived in memory but not yet released to the writer */
    uint64_t first_seq;    /* where this run started (first stream) */
    double seconds;        /* since the start of the run */
    double active_seconds; /* from the first to the last record archived (the rate's denominator) */
    double first_record_s; /* from the start of the run to the first record (setup, waiting) */
    int writer_dead;       /* the ring's writer died (records up to its last were archived) */
} h5tier_archiver_stats_t;

typedef struct h5tier_archiver_opts {
    const char *const *streams; /* stream names to archive; NULL = every stream of the ring */
    unsigned nstreams;          /* entries in streams */
    int lossless;               /* 1: a tethered reader: the writer waits for the archiver */
    const char *tether;         /* tether name (lossless); NULL = "archive" */
    int keep_tether;            /* lossless: keep the tether at a clean stop (a restart continues
                                   losslessly; the writer waits for it meanwhile).  A killed archiver
                                   always leaves it. */
    double idle_timeout_s;      /* stop when no record arrived for this long; 0 = never */
    uint64_t count;             /* stop after this many records in this run; 0 = no limit */
    double duration_s;          /* stop after this long; 0 = no limit */
    double flush_interval_s;    /* write partial chunks and release the tether at least this often;
                                   0 = 0.25 s */
    size_t chunk_bytes;         /* chunk size of new archive datasets; 0 = min(1 MiB, a quarter of
                                   the ring stream's bytes) */
    unsigned archive_flags;     /* H5TIER_ARCHIVE_PLAIN_WRITE, H5TIER_ARCHIVE_MODE(m) for the
                                   permissions of a new archive (default 0600); CREATE is implied */
    volatile sig_atomic_t *stop; /* if not NULL, polled: non-zero stops cleanly (signal handlers) */
    void (*progress)(const h5tier_archiver_stats_t *stats, void *arg); /* about once a second */
    void *progress_arg;
} h5tier_archiver_opts_t;

/* Defaults: every stream, lossy, tether "archive", run until stopped, flush
 * every 0.25 s. */
H5TIER_API void h5tier_archiver_opts_init(h5tier_archiver_opts_t *opts);

/* Archive streams of ring `ring` into the HDF5 file `out` until a stop
 * condition (opts) holds, then flush and close.  The archive is created
 * with each stream's schema (h5tier_ring_open_hdf5: the ring dataset's type,
 * record shape and attributes) or continued: the run resumes after the
 * last archived record or lost range (no duplicate; in lossless mode no
 * loss either, as the tether kept those records in the ring).
 *
 * Lossy: an ordinary reader; a jump in the sequence (lapped by the writer,
 * or records gone before the archiver started) is recorded as a lost range.
 * Lossless: a tethered reader with manual release; the tether is released
 * only up to what is written to the file, so a killed archiver loses
 * nothing.  Records are read as zero-copy views and whole chunks go from
 * the ring mapping to H5Dwrite_chunk.
 *
 * stats (may be NULL) receives the run's counters.  Returns 0 or:
 *   -ENOENT / -H5TIER_EMAGIC / -H5TIER_EVERSION  no such ring / not a ring
 *   -ENOENT             unknown stream (errmsg lists the ring's streams)
 *   -EBUSY              the tether is held by a live archiver, or another
 *                       archiver writes `out`
 *   -H5TIER_ESCHEMA     `out` holds a dataset at a stream's path with another
 *                       type or record shape
 *   -ERANGE             the archive continues beyond the ring's tail (the ring
 *                       was re-created: archive into a new file)
 *   the errors of h5tier_archive_open/append and of the ring reader. */
H5TIER_API int h5tier_archive_ring(const char *ring, const char *out, const h5tier_archiver_opts_t *opts,
                                   h5tier_archiver_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif /* H5TIER_ARCHIVE_H */
