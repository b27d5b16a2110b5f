/*
 * h5tier_ring.h -- live circular buffers ("rings") with an HDF5 schema in
 * shared memory: one writer, any number of readers, lock-free.
 *
 * A ring is a named POSIX shared-memory object, /dev/shm/NAME, that is a
 * valid HDF5 file: `h5dump /dev/shm/NAME` and h5py read it.  It holds one or
 * more STREAMS.  A stream is a contiguous dataset "/<stream>" of shape
 * (capacity, *record_shape) whose element type is any fixed-size HDF5 type
 * (a 64 B compound event, a 1024x1024 uint16 image, ...), with the
 * attributes of its schema.  Slot i of the dataset holds the record whose
 * sequence number s satisfies s % capacity == i.
 *
 * Every record has a 64-bit SEQUENCE NUMBER: the first record ever put into a
 * stream is 0 and each put adds 1, across writer restarts.  "tail" is the
 * sequence number of the next record to be written (= number of records ever
 * published); the ring holds the records [max(0, tail - capacity), tail).
 *
 * The control block lives in the HDF5 USERBLOCK (the first bytes of the
 * object, which the HDF5 library never touches): magic, format version,
 * generation (bumped by each writer open), writer pid + start time +
 * heartbeat, and per stream its name, record size, capacity, data offset,
 * the positions tail_intent / tail (on their own cache line), a futex word
 * and waiter count for blocking readers, tether positions of lossless
 * readers (each on its own cache line) and reader statistics slots.
 *
 * PROTOCOL (the spirit of Aeron's broadcast buffer).  The writer publishes
 * tail_intent = s + n (release) before copying records s .. s+n-1 into their
 * slots, then publishes tail = s + n (release).  A reader loads tail
 * (acquire), copies records below it, then loads tail_intent again: if
 * tail_intent - capacity > position, the writer may have overwritten what was
 * copied, so the copy is discarded, the loss is counted (the reader knows
 * exactly how many records it lost) and the reader resyncs to the oldest
 * record that is still valid.  A reader never returns a torn record and the
 * writer never waits for a lossy reader.  The hot path never calls HDF5: the
 * data region of each dataset is mapped directly (its absolute offset comes
 * from H5Dget_offset at creation).
 *
 * MAPPINGS.  The writer maps the whole object read-write.  A reader maps the
 * whole object PROT_READ, plus a second, small read-write mapping of the
 * control block only ([0, userblock)), through which it updates its own
 * statistics slot, its tether position and the futex waiter count.  The data
 * a reader looks at is therefore never writable by the reader.  Readers need
 * read-write permission on the shm object for that (the CLI creates rings
 * 0600 unless asked; give readers of other users 0660/0666 and a group).
 *
 * LOSSLESS (TETHERED) READERS.  A reader opened with a tether name registers
 * a position in the control block; before overwriting a slot the writer
 * checks the slowest tether.  If it would overwrite a record a tethered
 * reader has not released, it spins, then sleeps on a futex, and fails after
 * its tether timeout with -ETIMEDOUT ("stream 'x': tethered reader 'arch'
 * (pid N) is K records behind; waited T ms").  The writer caches the slowest
 * tether, so the check costs nothing per record while the tethers are not
 * close to a lap (it re-reads them when a tether comes or goes: a per-stream
 * counter on a line the writer reads anyway).  Caveat: a tether added while
 * the writer runs protects records from the writer's next put on; records
 * the writer was overwriting at that very moment may still be lost, and the
 * new reader then counts them as lost.  Register tethers before starting the
 * writer (or start them FROM_LATEST) when that matters.  A tether is keyed
 * by name: a restarted reader with the
 * same tether name takes the tether over with its position, so nothing is
 * lost while it was down (a dead tether keeps holding the writer back unless
 * the writer uses H5TIER_RING_DROP_DEAD_TETHERS).
 *
 * BLOCKING.  Reads take a timeout in milliseconds: 0 = do not wait,
 * -1 = wait forever.  A waiting reader spins briefly, then sleeps on a
 * shared futex in the control block; the writer calls FUTEX_WAKE only when a
 * waiter count says someone sleeps, so a writer without sleeping readers pays
 * one load of a line nobody writes.  Sleeps are cut into slices of at most
 * 10 ms so that a missed wake-up (the writer does not fence between
 * publishing tail and reading the waiter count, to keep single puts cheap)
 * costs at most one slice, and so that the writer's liveness is re-checked.
 *
 * WRITER DEATH.  While waiting, readers check the writer: if its pid is gone
 * or belongs to another process (start time changed), or its heartbeat is
 * older than the reader's dead_after_ms, the read returns
 * -H5TIER_EDEADWRITER instead of hanging (records still in the ring are
 * returned first).  A ring without an attached writer (created, or closed
 * cleanly) is not dead: readers wait for a writer to attach.  A writer that
 * opens an existing ring continues every stream's sequence from tail (a batch
 * that a dead writer had announced but not published is skipped: its
 * sequence numbers are never used, so readers see no torn record) and bumps
 * the generation.
 *
 * THREADS.  A ring writer handle, and a reader handle, is used by one thread
 * at a time.  Any number of reader handles may exist in any processes and
 * threads.  Do not use a handle in a child after fork(); open a new one.
 *
 * Every function returns 0 (or a non-negative count) on success and a
 * negative errno or -H5TIER_E* code on failure, with h5tier_errmsg()
 * explaining it (see h5tier.h).
 */
#ifndef H5TIER_RING_H
#define H5TIER_RING_H

#include <stdint.h>
#include <sys/types.h>

#include <hdf5.h>

#include "h5tier.h"

#ifdef __cplusplus
extern "C" {
#endif

#define H5TIER_RING_FORMAT_VERSION 3     /* format written and accepted (3: data object + reader table) */
#define H5TIER_RING_MAX_STREAMS 64       /* streams per ring */
#define H5TIER_RING_STREAM_NAME_MAX 47   /* characters of a stream name */
#define H5TIER_RING_MAX_TETHERS 8        /* tethered (lossless) readers per stream */
#define H5TIER_RING_MAX_READERS 32       /* reader statistics slots per stream */
#define H5TIER_RING_TETHER_NAME_MAX 31   /* characters of a tether name */
#define H5TIER_RING_MAX_RANK 8           /* rank of one record */

typedef struct h5tier_ring h5tier_ring_t;               /* a writer handle */
typedef struct h5tier_ring_reader h5tier_ring_reader_t; /* a reader of one stream */

/* ==== schema: what one stream holds ======================================= */

/* One stream to create.  Fill it with h5tier_ring_stream_from_dtype(),
 * h5tier_ring_stream_from_like(), or by hand after
 * h5tier_ring_stream_spec_init(). */
typedef struct h5tier_ring_stream_spec {
    char name[H5TIER_RING_STREAM_NAME_MAX + 1]; /* dataset name at the root: [A-Za-z0-9_.-]+ */
    hid_t type;                                 /* fixed-size HDF5 type of one element */
    int rank;                                   /* rank of one record (0 = one element) */
    hsize_t dims[H5TIER_RING_MAX_RANK];         /* shape of one record */
    uint64_t capacity;                          /* records, a power of two >= 2 */
    hid_t attr_source; /* dataset (or group) whose attributes are copied onto the stream's dataset,
                          or H5I_INVALID_HID */
    int owns_ids;      /* 1: h5tier_ring_stream_spec_free closes type and attr_source (and the file
                          of attr_source) */
} h5tier_ring_stream_spec_t;

/* Zero *spec and set type and attr_source to H5I_INVALID_HID. */
H5TIER_API void h5tier_ring_stream_spec_init(h5tier_ring_stream_spec_t *spec);

/* Fill *spec from a type spec string (grammar below).  name may be NULL
 * ("data").  The type is owned by the spec: free it with
 * h5tier_ring_stream_spec_free().
 *
 * Type spec grammar (numpy-like):
 *     spec     := [order] base [shape] | compound [shape]
 *     order    := '<' little-endian (default, native here) | '>' big-endian
 *     base     := 'i1'|'i2'|'i4'|'i8'|'u1'|'u2'|'u4'|'u8'|'f4'|'f8'
 *     shape    := '[' N (',' N)* ']'         (the shape of one record)
 *     compound := '{' field (',' field)* '}'
 *     field    := NAME ':' spec              (a field's shape makes an array member)
 * A shape after the whole spec is the record shape (dataset dims[1:]); a
 * shape inside a compound field is an HDF5 array member.  Examples:
 *     "u8"  "f4[4]"  "u2[1024,1024]"  ">f8"  "{seq:u8,ts:f8,adc:u2[16]}"
 * Errors: -EINVAL (malformed spec; errmsg shows the position),
 * -ERANGE (capacity not a power of two >= 2, record larger than 1 TiB,
 * rank above H5TIER_RING_MAX_RANK), -H5TIER_EHDF5. */
H5TIER_API int h5tier_ring_stream_from_dtype(h5tier_ring_stream_spec_t *spec, const char *name,
                                             const char *dtype, uint64_t capacity);

/* Fill *spec like an existing dataset: its type, per-record shape dims[1:]
 * (the first dimension of the source is the record axis; a rank-1 source
 * gives scalar records) and its attributes.  `like` is "FILE.h5:/path".
 * name may be NULL (the basename of /path).  The source file stays open
 * (read-only) until h5tier_ring_stream_spec_free().
 * Errors: -EINVAL (no ':' in like, scalar source, bad name), -ENOENT (file
 * or dataset missing), -H5TIER_ESCHEMA (variable-length type: records must
 * have a fixed size), -H5TIER_ENOTHDF5, -ERANGE (as above). */
H5TIER_API int h5tier_ring_stream_from_like(h5tier_ring_stream_spec_t *spec, const char *name,
                                            const char *like, uint64_t capacity);

/* Release what a spec owns (when owns_ids) and re-init it. */
H5TIER_API void h5tier_ring_stream_spec_free(h5tier_ring_stream_spec_t *spec);

/* Bytes of one record of a spec (element size x product of dims), 0 if the
 * type is invalid. */
H5TIER_API uint64_t h5tier_ring_spec_record_size(const h5tier_ring_stream_spec_t *spec);

/* ==== creating and removing rings ========================================= */

#define H5TIER_RING_CREATE_FORCE 0x1u /* replace an existing shm object of that name */

/* Create ring NAME (an shm name: [A-Za-z0-9._+@-], no '/'): one HDF5 file
 * in /dev/shm/NAME with one contiguous dataset per stream, the control block
 * in its userblock, the whole object reserved (posix_fallocate) so a full
 * /dev/shm is reported now (-ENOSPC) and never as SIGBUS later.  No writer
 * is attached afterwards; open one with h5tier_ring_open_writer().
 * mode: permissions (0 = 0600).  flags: H5TIER_RING_CREATE_FORCE.
 * Errors: -EINVAL (bad name, 0 or too many streams, duplicate or bad stream
 * name), -ERANGE (capacity not a power of two >= 2), -EEXIST (object exists
 * and no FORCE), -EBUSY (FORCE but a live writer has the ring open),
 * -ENOSPC, -H5TIER_ESCHEMA (variable-length type), -H5TIER_EHDF5, -errno.
 * Caveat: readers that open the ring while it is being created get
 * -H5TIER_EMAGIC (the magic is written last). */
H5TIER_API int h5tier_ring_create(const char *name, const h5tier_ring_stream_spec_t *streams, unsigned nstreams,
                                  mode_t mode, unsigned flags);

/* Unlink ring NAME.  A live writer makes it -EBUSY unless force.  Mappings
 * that processes already hold stay valid until they close.
 * Errors: -ENOENT, -EBUSY, -EINVAL (bad name), -H5TIER_EMAGIC (the object
 * is not a ring; use `h5tier shm rm`), -errno. */
H5TIER_API int h5tier_ring_remove(const char *name, int force);

/* Open the ring read-only as an HDF5 file (to read schemas and attributes).
 * Returns a file id (close with H5Fclose) or a negative error:
 * -ENOENT, -H5TIER_EHDF5. */
H5TIER_API hid_t h5tier_ring_open_hdf5(const char *name);

/* ==== writer =============================================================== */

#define H5TIER_RING_DROP_DEAD_TETHERS 0x1u /* ignore tethers whose process is dead (gives up
                                              losslessness for a tethered reader that died) */

typedef struct h5tier_ring_writer_opts {
    int tether_timeout_ms; /* how long a put waits for a slow tethered reader before failing with
                              -ETIMEDOUT; -1 = forever; 0 = fail at once.  Default 5000. */
    unsigned flags;        /* H5TIER_RING_DROP_DEAD_TETHERS */
} h5tier_ring_writer_opts_t;

/* Defaults: tether timeout 5000 ms, no flags. */
H5TIER_API void h5tier_ring_writer_opts_init(h5tier_ring_writer_opts_t *opts);

/* Attach as THE writer of ring NAME (opts may be NULL for the defaults).
 * Bumps the generation, records this pid, start time and heartbeat, and
 * continues every stream's sequence from its tail.  Maps every page of the
 * ring up front (MADV_POPULATE_WRITE, best effort), so puts take no page
 * faults; opening a large ring takes time in proportion to its size.
 * Errors: -ENOENT (no such ring), -EBUSY (a live writer is attached; its
 * pid is in errmsg), -H5TIER_EMAGIC (not a ring or corrupted control block),
 * -H5TIER_EVERSION (other format version), -EACCES, -ENOMEM, -errno. */
H5TIER_API int h5tier_ring_open_writer(const char *name, const h5tier_ring_writer_opts_t *opts,
                                       h5tier_ring_t **ring);

/* Detach the writer (readers then wait for another writer instead of
 * reporting a dead one) and free the handle.  NULL is accepted.  Returns 0. */
H5TIER_API int h5tier_ring_close(h5tier_ring_t *ring);

/* Number of streams of the ring. */
H5TIER_API unsigned h5tier_ring_nstreams(const h5tier_ring_t *ring);

/* Index of stream `name` (for the put functions); NULL or "" = stream 0.
 * Errors: -ENOENT (unknown stream; errmsg lists the streams). */
H5TIER_API int h5tier_ring_stream_index(const h5tier_ring_t *ring, const char *name);

/* Record size and capacity of stream s (0 if s is out of range). */
H5TIER_API size_t h5tier_ring_record_size(const h5tier_ring_t *ring, int s);
H5TIER_API uint64_t h5tier_ring_capacity(const h5tier_ring_t *ring, int s);

/* The sequence number the next put of stream s gets (= records published). */
H5TIER_API uint64_t h5tier_ring_tail(const h5tier_ring_t *ring, int s);

/* Put one record of `size` bytes (must equal the stream's record size) into
 * stream s.  Never waits, except for tethered readers (see above).
 * Errors: -EINVAL (s out of range), -H5TIER_ESCHEMA (size is not the record
 * size; errmsg gives both), -ETIMEDOUT (a tethered reader did not move within
 * the tether timeout). */
H5TIER_API int h5tier_ring_put(h5tier_ring_t *ring, int s, const void *record, size_t size);

/* Put `count` records laid out back to back (count * size bytes) with one
 * publication of tail_intent / tail per batch (batches larger than the
 * capacity, or than what tethered readers allow, are split).  Returns 0 or
 * the errors of h5tier_ring_put; on -ETIMEDOUT the records before the one
 * that could not be placed are published. */
H5TIER_API int h5tier_ring_put_many(h5tier_ring_t *ring, int s, const void *records, size_t count, size_t size);

/* Zero-copy put: announce the next record of stream s and get a pointer to
 * its slot (record-size bytes) in *slot and its sequence number in *seq
 * (may be NULL).  Write the record there, then call h5tier_ring_commit().
 * Between claim and commit readers may see the slot's old record as lapped;
 * no other put of that stream may happen in between.  Same as
 * h5tier_ring_claim_many() with max = 1.
 * Errors: -EINVAL (s out of range, or a claim is already pending),
 * -ETIMEDOUT (tethered reader, as for put). */
H5TIER_API int h5tier_ring_claim(h5tier_ring_t *ring, int s, void **slot, uint64_t *seq);

/* Publish every record claimed on stream s (h5tier_ring_commit_many() with
 * n = the number claimed).  -EINVAL if nothing was claimed. */
H5TIER_API int h5tier_ring_commit(h5tier_ring_t *ring, int s);

/* Zero-copy batch put: claim up to `max` consecutive records of stream s,
 * to fill in place (DMA, decode) and publish with one
 * h5tier_ring_commit_many().
 *
 * ring       the writer handle
 * s          stream index (h5tier_ring_stream_index())
 * max        records wanted, >= 1
 * slots      receives the address of the first claimed slot.  The claimed
 *            slots are contiguous: record k (0 <= k < n) is at
 *            (char *)*slots + k * h5tier_ring_record_size(ring, s)
 * first_seq  receives the sequence number of record 0 (may be NULL);
 *            record k has first_seq + k
 *
 * Returns n, the number of records claimed (1 <= n <= max), or a negative
 * error.  n is smaller than max when the run would wrap past the end of
 * the stream's data area (the run ends at the last slot; claim again after
 * committing for the rest, which starts at slot 0), when max exceeds the
 * capacity, or when a tethered reader leaves room for fewer.  Like
 * h5tier_ring_put_many() it waits for tethered readers when they leave no
 * room at all, spinning then sleeping, up to the writer's tether timeout.
 *
 * Errors:
 *   -EINVAL     s out of range, max == 0, slots NULL, or records of this
 *               stream are already claimed and not committed
 *   -ETIMEDOUT  a tethered reader did not move within the tether timeout
 *               (errmsg names it and how far behind it is, as for put);
 *               nothing is claimed then
 *
 * Caveats: from the claim on, tail_intent covers the claimed slots, so
 * readers treat the records those slots held (the previous lap) as
 * overwritten, exactly as during a put; they never see a claimed slot
 * half-written as a valid record.  No other put, claim or put_many of
 * stream s may happen until the commit (they fail with -EINVAL).  The
 * slots belong to the writer until then; do not keep pointers to them
 * after the commit.  The writer's heartbeat is refreshed by commits, so a
 * fill that takes longer than a reader's dead_after_ms should call
 * h5tier_ring_heartbeat(). */
H5TIER_API long h5tier_ring_claim_many(h5tier_ring_t *ring, int s, size_t max, void **slots, uint64_t *first_seq);

/* Publish the first n records claimed with h5tier_ring_claim_many() (or
 * h5tier_ring_claim()) on stream s, in one publication of tail: readers
 * see first_seq .. first_seq + n - 1 at once and the stream's tail becomes
 * first_seq + n.
 *
 * n  1 .. the number claimed.  A producer that filled fewer records than it
 *    claimed publishes only those: the unfilled rest is released, the
 *    sequence does not advance past them and the next put or claim reuses
 *    their sequence numbers and slots.
 *
 * Returns 0.  Errors: -EINVAL (s out of range, nothing claimed on s, or
 * n == 0 or n > the number claimed; the claim is still pending then, commit
 * again with a valid n).
 *
 * A claim ends with a commit of at least one record, with
 * h5tier_ring_cancel() (nothing published), or with h5tier_ring_close(),
 * which releases all of it.
 *
 * Caveat: releasing records leaves tail_intent ahead of tail until later
 * puts catch up; the records of the previous lap in the released slots are
 * gone (readers count them as lost if they had not read them), which is
 * what a put of those records would have done anyway. */
H5TIER_API int h5tier_ring_commit_many(h5tier_ring_t *ring, int s, size_t n);

/* Cancel the claim pending on stream s: nothing is published, tail stays
 * where it is, and the next put or claim reuses the claimed sequence numbers
 * and slots (a DAQ producer whose DMA into the claimed slots failed, or whose
 * event was rejected, gives them back this way).  The slots may hold
 * anything: readers never return them, because tail does not cover them.
 *
 * Returns 0.  Errors: -EINVAL (s out of range, or nothing claimed on s).
 *
 * Caveat: as with a partial commit, tail_intent stays ahead of tail until
 * later puts catch up, so the previous lap's records in the claimed slots
 * are gone (readers that had not read them count them as lost). */
H5TIER_API int h5tier_ring_cancel(h5tier_ring_t *ring, int s);

/* Refresh the writer heartbeat now (puts do it themselves at least every
 * ~50 ms of activity).  A writer idle for long while readers use
 * dead_after_ms should call it periodically. */
H5TIER_API void h5tier_ring_heartbeat(h5tier_ring_t *ring);

/* ==== readers ============================================================== */

typedef enum h5tier_ring_from {
    H5TIER_RING_FROM_OLDEST = 0, /* the oldest record still in the ring */
    H5TIER_RING_FROM_LATEST = 1, /* the next record put (records already there are skipped) */
    H5TIER_RING_FROM_SEQ = 2     /* opts.seq; -H5TIER_EGONE if it is older than tail - capacity */
} h5tier_ring_from_t;

#define H5TIER_RING_MANUAL_RELEASE 0x1u /* tethered: the tether moves only with
                                           h5tier_ring_reader_release() (e.g. after an fsync) */
#define H5TIER_RING_REPORT_LAPS 0x2u    /* return -H5TIER_ELAPPED once when lapped (default: skip
                                           silently; the jump in seq shows the gap) */

typedef struct h5tier_ring_reader_opts {
    h5tier_ring_from_t from; /* where to start */
    uint64_t seq;            /* with H5TIER_RING_FROM_SEQ */
    const char *tether;      /* NULL: lossy reader; a name: lossless tethered reader */
    unsigned flags;          /* H5TIER_RING_MANUAL_RELEASE, H5TIER_RING_REPORT_LAPS */
    int dead_after_ms;       /* also call the writer dead when its heartbeat is older than this
                                (0 = judge by pid and start time only; the default) */
    int spin_us;             /* spin this long before sleeping on the futex (default 50) */
    int batch_wait_ns;       /* when records arrive fast (>= 4 per us since the last look, and the
                                last look found new records at once) but the reader has caught up
                                with only a few bytes (< 4 KiB) new, wait this long before looking
                                again, so that the reader copies in batches.  A reader that stays right behind a fast
                                writer otherwise costs the writer a cross-core miss per record
                                (the reader's hardware prefetcher pulls the slots the writer is
                                about to overwrite): measured here, 64 B puts with one reader went
                                from 7-50 M/s to 60-135 M/s.  Costs up to this much latency, only
                                for fast streams; records that come less often than 4 per us are
                                seen at once.  Default 5000; 0 = always look at once. */
} h5tier_ring_reader_opts_t;

/* Defaults: from oldest, lossy, no flags, pid-only death detection, 50 us
 * spin, 5000 ns batch wait. */
H5TIER_API void h5tier_ring_reader_opts_init(h5tier_ring_reader_opts_t *opts);

/* Open a reader of stream `stream` (NULL = the first stream) of ring NAME.
 * opts may be NULL.  Takes a statistics slot if one is free (the reader
 * works without one; `ring stat` then does not list it).  Maps every page
 * of the ring up front (MADV_POPULATE_READ, best effort) so reads take no
 * page faults; opening a large ring takes time in proportion to its size.
 * Errors: -ENOENT (no ring, or unknown stream: errmsg lists the streams),
 * -H5TIER_EMAGIC (not a ring: no or wrong magic in the userblock, or a
 * corrupted control block), -H5TIER_EVERSION, -H5TIER_EGONE (FROM_SEQ older
 * than the oldest record: errmsg gives the oldest), -EUSERS (tether table
 * full), -EBUSY (tether name held by a live process), -EINVAL (bad opts,
 * tether name too long), -EACCES, -ENOMEM. */
H5TIER_API int h5tier_ring_reader_open(const char *name, const char *stream, const h5tier_ring_reader_opts_t *opts,
                                       h5tier_ring_reader_t **reader);

/* Close a reader: frees its statistics slot.  A tether is NOT removed (a
 * restarted reader of that name resumes from it); remove it with
 * h5tier_ring_untether().  NULL is accepted.  Returns 0. */
H5TIER_API int h5tier_ring_reader_close(h5tier_ring_reader_t *reader);

/* Copy the next record into buf (size >= record size) and its sequence
 * number into *seq (may be NULL).  timeout_ms: 0 = do not wait, -1 = forever.
 * Returns 0 with a record; a jump in *seq means records were lost (lapped).
 * Errors: -EAGAIN (timeout 0 and nothing new), -ETIMEDOUT, -H5TIER_ELAPPED
 * (only with H5TIER_RING_REPORT_LAPS; the reader has resynced, call again),
 * -H5TIER_EDEADWRITER (caught up and the writer died), -H5TIER_ESCHEMA
 * (size smaller than a record), -EINTR (a signal interrupted the wait). */
H5TIER_API int h5tier_ring_next(h5tier_ring_reader_t *reader, void *buf, size_t size, uint64_t *seq, int timeout_ms);

/* Copy up to max records (consecutive sequence numbers starting at
 * *first_seq) into buf (size >= max * record size), validating once per
 * batch.  Returns the number of records (>= 1), or the errors of
 * h5tier_ring_next. */
H5TIER_API long h5tier_ring_next_many(h5tier_ring_reader_t *reader, void *buf, size_t max, size_t size,
                                      uint64_t *first_seq, int timeout_ms);

/* Zero-copy view: point *data at up to max consecutive records in the
 * ring's read-only mapping (never across the end of the dataset), *first_seq
 * at the first one's sequence number.  Returns the count (>= 1) or the
 * errors of h5tier_ring_next.  The records may be overwritten while you use
 * them: call h5tier_ring_view_done() afterwards and discard whatever you
 * computed if it returns -H5TIER_ELAPPED.  Consumers must not hold views
 * for long (copy out instead): a held view does not hold the writer back. */
H5TIER_API long h5tier_ring_view(h5tier_ring_reader_t *reader, const void **data, size_t max, uint64_t *first_seq,
                                 int timeout_ms);

/* Finish a view: 0 if the viewed records were intact all along (the reader
 * moves past them), -H5TIER_ELAPPED if the writer may have overwritten them
 * (the loss is counted and the reader resyncs to the oldest valid record),
 * -EINVAL if no view is pending. */
H5TIER_API int h5tier_ring_view_done(h5tier_ring_reader_t *reader);

/* Tethered reader with H5TIER_RING_MANUAL_RELEASE: allow the writer to
 * overwrite every record below `upto` (clamped to what was read).  0, or
 * -EINVAL for an untethered reader. */
H5TIER_API int h5tier_ring_reader_release(h5tier_ring_reader_t *reader, uint64_t upto);

/* Move the reader to sequence number seq (the next record returned).
 * Errors: -H5TIER_EGONE (older than the oldest record), -EINVAL (beyond tail). */
H5TIER_API int h5tier_ring_reader_seek(h5tier_ring_reader_t *reader, uint64_t seq);

typedef struct h5tier_ring_reader_stats_s { /* tag != function name: C++ -Wshadow */
    uint64_t position;   /* sequence number of the next record to read */
    uint64_t records;    /* records returned */
    uint64_t lost;       /* records skipped because the writer lapped this reader */
    uint64_t laps;       /* times it was lapped */
    uint64_t tail;       /* the stream's tail now */
    uint64_t generation; /* the ring's generation now */
} h5tier_ring_reader_stats_t;

/* This reader's counters and the stream's tail.  Returns 0. */
H5TIER_API int h5tier_ring_reader_stats(const h5tier_ring_reader_t *reader, h5tier_ring_reader_stats_t *stats);

/* Record size, capacity and stream name of the reader's stream. */
H5TIER_API size_t h5tier_ring_reader_record_size(const h5tier_ring_reader_t *reader);
H5TIER_API uint64_t h5tier_ring_reader_capacity(const h5tier_ring_reader_t *reader);
H5TIER_API const char *h5tier_ring_reader_stream(const h5tier_ring_reader_t *reader);

/* The stream's schema: a copy of the element type (close it with H5Tclose),
 * the record rank and dims (dims has room for H5TIER_RING_MAX_RANK).
 * Attributes: open the dataset "/<stream>" through h5tier_ring_open_hdf5().
 * Errors: -H5TIER_EHDF5. */
H5TIER_API int h5tier_ring_reader_schema(const h5tier_ring_reader_t *reader, hid_t *type, int *rank,
                                         hsize_t *dims);

/* Remove tether `tether` of stream `stream` (NULL = first) so the writer no
 * longer waits for it.  -ENOENT if there is no such tether or stream. */
H5TIER_API int h5tier_ring_untether(const char *name, const char *stream, const char *tether);

/* ==== inspection (ring stat) ============================================== */

typedef struct h5tier_ring_reader_info {
    pid_t pid;
    int alive;
    int tethered;
    uint64_t position, records, lost, laps;
} h5tier_ring_reader_info_t;

typedef struct h5tier_ring_tether_info {
    char name[H5TIER_RING_TETHER_NAME_MAX + 1];
    pid_t pid; /* last process that held it */
    int alive;
    uint64_t position; /* records below it may be overwritten */
} h5tier_ring_tether_info_t;

typedef struct h5tier_ring_stream_info {
    char name[H5TIER_RING_STREAM_NAME_MAX + 1];
    uint64_t record_size, capacity, data_offset;
    uint64_t tail, tail_intent, oldest; /* oldest = max(0, tail - capacity) */
    unsigned waiters;                    /* readers sleeping on the futex now */
    unsigned ntethers;
    h5tier_ring_tether_info_t tethers[H5TIER_RING_MAX_TETHERS];
    unsigned nreaders;
    h5tier_ring_reader_info_t readers[H5TIER_RING_MAX_READERS];
} h5tier_ring_stream_info_t;

typedef struct h5tier_ring_info_s { /* tag != function name: C++ -Wshadow */
    char name[256];
    unsigned version;
    uint64_t generation;
    pid_t writer_pid; /* 0 when no writer is attached */
    int writer_alive;
    double heartbeat_age_s; /* seconds since the writer's last heartbeat (-1 if never) */
    unsigned nstreams;
    uint64_t userblock; /* bytes of control block (the HDF5 userblock) */
    uint64_t size;      /* bytes of the shm object */
} h5tier_ring_info_t;

/* Describe ring NAME (and, if streams is not NULL, fill streams[0 ..
 * min(nstreams, max)-1]).  Errors: -ENOENT, -H5TIER_EMAGIC,
 * -H5TIER_EVERSION, -EACCES, -errno. */
H5TIER_API int h5tier_ring_info(const char *name, h5tier_ring_info_t *info, h5tier_ring_stream_info_t *streams,
                                unsigned max);

#ifdef __cplusplus
}
#endif
#endif /* H5TIER_RING_H */
