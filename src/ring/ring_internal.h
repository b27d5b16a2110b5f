/*
 * ring/ring_internal.h -- the ring's shared-memory layout and the handle
 * structures, shared by ring.c, reader.c, schema.c and the archiver.  Not
 * installed.
 *
 * A ring is two shm objects (as LMDB's data file and lock file):
 *   NAME            the HDF5 file: records, schema, and in its userblock the
 *                   control block that only the writer writes (configuration,
 *                   positions, the futex readers sleep on, writer identity).
 *                   Readers open it O_RDONLY and map it PROT_READ.
 *   .NAME.readers   the reader table: what readers write (statistics slots,
 *                   tethers, sleeping-reader bits, the writer's wake-up
 *                   futex).  Group/other get read-write here exactly where
 *                   they may read NAME.  Every process validates it.
 *
 * Layout of the userblock of NAME (little-endian host order; the ring is a
 * same-machine structure):
 *     [0, 4096)                       ring_hdr_t: magic, version, sizes, ring id,
 *                                     generation, writer pid/start/heartbeat
 *     [4096 * (1 + i), +4096)         ring_stream_t of stream i
 *     ... up to the userblock size (a power of two >= 8192)
 * Layout of .NAME.readers:
 *     [0, 4096)                       ring_rtab_hdr_t: magic, version, stream count,
 *                                     size, the ring id of NAME
 *     [4096 * (1 + i), +4096)         ring_rstream_t of stream i
 * Every field that one side writes often sits on its own 64-byte line.
 */
#ifndef H5TIER_RING_INTERNAL_H
#define H5TIER_RING_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/internal.h"
#include "h5tier_ring.h"

#define RING_MAGIC UINT64_C(0x31474e4952543548) /* "H5TRING1" read as little-endian bytes */
#define RING_RTAB_MAGIC UINT64_C(0x3152445252543548) /* "H5TRRDR1": the reader table */
#define RING_RTAB_SUFFIX ".readers"               /* .NAME.readers */
#define RING_HDR_BYTES 4096u
#define RING_STREAM_BYTES 4096u
#define RING_DATA_ALIGN 4096u

#define RING_LINE H5TIER_CACHELINE

typedef struct ring_hdr {
    /* line 0: written once at creation */
    uint64_t magic;
    uint32_t version;
    uint32_t nstreams;
    uint64_t userblock;   /* bytes of control block = HDF5 userblock */
    uint64_t size;        /* bytes of the shm object */
    uint64_t create_ns;   /* CLOCK_REALTIME at creation */
    uint64_t ring_id;     /* random, also in the reader table: pairs the two objects */
    uint8_t pad0[RING_LINE - 48];
    /* line 1: writer identity */
    _Atomic uint64_t generation;
    _Atomic int32_t writer_pid; /* 0 = no writer attached */
    int32_t pad1;
    _Atomic uint64_t writer_start; /* h5tier__proc_start_time of writer_pid */
    uint8_t pad1b[RING_LINE - 24];
    /* line 2: writer heartbeat (CLOCK_MONOTONIC ns) */
    _Atomic uint64_t heartbeat_ns;
    uint8_t pad2[RING_LINE - 8];
} ring_hdr_t;

typedef struct ring_tether {
    _Atomic uint64_t pos;      /* records below pos may be overwritten */
    _Atomic int32_t pid;       /* last holder */
    _Atomic uint32_t active;   /* 1 = in use (the writer respects it) */
    _Atomic uint64_t start;    /* start time of pid */
    char name[H5TIER_RING_TETHER_NAME_MAX + 1];
    uint8_t pad[RING_LINE - 24 - (H5TIER_RING_TETHER_NAME_MAX + 1)];
} ring_tether_t;

typedef struct ring_rslot {
    _Atomic int32_t pid; /* 0 = free */
    _Atomic int32_t tethered;
    _Atomic uint64_t start;
    _Atomic uint64_t pos, records, lost, laps;
    uint8_t pad[RING_LINE - 48];
} ring_rslot_t;

typedef struct ring_stream {
    /* line 0-1: configuration, written once at creation */
    char name[H5TIER_RING_STREAM_NAME_MAX + 1];
    uint64_t record_size;
    uint64_t capacity;
    uint64_t data_offset;
    uint8_t pad0[2 * RING_LINE - (H5TIER_RING_STREAM_NAME_MAX + 1) - 24];
    /* line 2: positions, written by the writer per publication.  tail_intent and tail share one
       line on purpose (as in Aeron's broadcast trailer): a reader that loads tail and later
       tail_intent misses once, not twice. */
    _Atomic uint64_t tail_intent;
    _Atomic uint64_t tail;
    uint8_t pad2[RING_LINE - 16];
    /* line 3: the futex readers sleep on (FUTEX_WAIT works on a read-only shared mapping): the
       writer bumps it and wakes only when the reader table's sleepers != 0 */
    _Atomic uint32_t futex;
    uint8_t pad3[RING_LINE - 4];
} ring_stream_t;

_Static_assert(sizeof(ring_hdr_t) == 3 * RING_LINE, "ring_hdr_t layout");
_Static_assert(sizeof(ring_tether_t) == RING_LINE, "ring_tether_t layout");
_Static_assert(sizeof(ring_rslot_t) == RING_LINE, "ring_rslot_t layout");
/* The reader table's header. */
typedef struct ring_rtab_hdr {
    uint64_t magic; /* RING_RTAB_MAGIC, written last at creation */
    uint32_t version;
    uint32_t nstreams;
    uint64_t size;    /* bytes of the object: RING_HDR_BYTES + nstreams * RING_STREAM_BYTES */
    uint64_t ring_id; /* == ring_hdr_t.ring_id of the data object */
} ring_rtab_hdr_t;

/* A stream's part of the reader table: everything readers write. */
typedef struct ring_rstream {
    /* line 0: sleepers has bit k set while the reader in statistics slot k sleeps on the
       futex (a reader without a slot polls instead): one atomic OR / AND per sleep, so a
       process killed in its sleep leaves exactly its own bit, which the writer (every 10 ms
       while any bit is set) and every opening reader clear when the slot's owner is dead.
       tgen is bumped whenever a tether is added or removed; the writer reads this line per put. */
    _Atomic uint32_t sleepers;
    _Atomic uint32_t tgen;
    uint8_t pad0[RING_LINE - 8];
    /* line 1: the writer's futex, when it waits for a tethered reader */
    _Atomic uint32_t wfutex;
    _Atomic uint32_t wwaiting;
    uint8_t pad1[RING_LINE - 8];
    ring_tether_t tethers[H5TIER_RING_MAX_TETHERS];
    ring_rslot_t readers[H5TIER_RING_MAX_READERS];
} ring_rstream_t;

_Static_assert(sizeof(ring_stream_t) <= RING_STREAM_BYTES, "ring_stream_t fits its block");
_Static_assert(sizeof(ring_rstream_t) <= RING_STREAM_BYTES, "ring_rstream_t fits its block");
_Static_assert(sizeof(ring_rtab_hdr_t) <= RING_HDR_BYTES, "ring_rtab_hdr_t fits its block");
_Static_assert(H5TIER_RING_MAX_READERS <= 32, "one bit of ring_rstream_t.sleepers per reader slot");

/* The protocol's two fences.  ThreadSanitizer does not model fences (GCC
 * refuses them under -fsanitize=thread), so TSan builds use read-modify-write
 * operations of the same strength instead; normal builds keep the cheap
 * fences (on x86 both are compiler barriers plus ordinary moves). */
#if defined(__SANITIZE_THREAD__)
/* (the reader's side is a load, not a read-modify-write: readers map the word read-only; and
   the writer's and the readers' mappings have different addresses, which TSan does not relate) */
#define RING_ANNOUNCE(p, v) ((void)atomic_exchange_explicit((p), (v), memory_order_acq_rel))
#define RING_LOAD_AFTER_COPY(p) atomic_load_explicit((p), memory_order_seq_cst)
#else
#define RING_ANNOUNCE(p, v)                                                                                    \
    (atomic_store_explicit((p), (v), memory_order_relaxed), atomic_thread_fence(memory_order_release))
#define RING_LOAD_AFTER_COPY(p) (atomic_thread_fence(memory_order_acquire), atomic_load_explicit((p), memory_order_relaxed))
#endif

static inline ring_stream_t *ring__stream_at(void *ctl, unsigned i)
{
    return (ring_stream_t *)((char *)ctl + RING_HDR_BYTES + (size_t)i * RING_STREAM_BYTES);
}

static inline ring_rstream_t *ring__rstream_at(void *rtab, unsigned i)
{
    return (ring_rstream_t *)((char *)rtab + RING_HDR_BYTES + (size_t)i * RING_STREAM_BYTES);
}

static inline uint64_t ring__rtab_size(unsigned nstreams)
{
    return RING_HDR_BYTES + (uint64_t)nstreams * RING_STREAM_BYTES;
}

/* What a stream's configuration was when the ring was mapped: read once from
 * the control block (which any reader can write), checked against its
 * invariants (and, for readers and writers, against the HDF5 metadata), and
 * used from then on instead of the shared fields. */
typedef struct ring_sgeom {
    char name[H5TIER_RING_STREAM_NAME_MAX + 1];
    uint64_t record_size, capacity, data_offset;
} ring_sgeom_t;

/* A mapped ring, as both handles see it. */
typedef struct ring_map {
    char name[H5TIER_SHM_NAME_MAX + 2]; /* canonical "/name" */
    int fd;
    uint64_t size;      /* bytes of the object */
    uint64_t userblock; /* bytes of control block */
    void *ctl;          /* the control block: == all */
    void *all;          /* mapping of [0, size): read-only (readers) or read-write (writer) */
    bool writable;      /* all is read-write */
    int rfd;            /* the reader table .NAME.readers */
    void *rtab;         /* its mapping (read-write, or read-only when rtab_writable is false) */
    uint64_t rtab_size;
    bool rtab_writable; /* false: a reader without write access to the table (no slot, no tether) */
    unsigned nstreams;  /* validated copy of the header's count */
    ring_sgeom_t geom[H5TIER_RING_MAX_STREAMS]; /* validated copies of the stream configurations */
} ring_map_t;

/* Open and map ring `name`, checking the control block: every size, count,
 * offset and position against its invariants and the object's size (the
 * validated configuration is copied to m->nstreams/m->geom); then open and
 * check the reader table (a regular file owned by the ring's owner, of the
 * exact size, with the ring's id).  writer: the data read-write (and a
 * missing or mismatched reader table is rebuilt when the caller owns the
 * ring); otherwise the data read-only, the reader table read-write when
 * permitted.  0, -ENOENT, -EACCES, -H5TIER_EMAGIC (with a message naming
 * the field), -H5TIER_EVERSION, -errno. */
int h5tier__ring_map(const char *name, bool writer, ring_map_t *m);
/* Check m->geom against the ring's HDF5 metadata (dataset per stream: rows =
 * capacity, type size x record shape = record size, contiguous storage at
 * data_offset; userblock size).  Readers and writers call it once at open,
 * so that nothing sized by the control block alone is ever read or
 * written.  0 or -H5TIER_EMAGIC naming the field. */
int h5tier__ring_check_hdf5(ring_map_t *m);
/* Map ring `name` read-only, check it (h5tier__ring_map, then
 * h5tier__ring_check_hdf5) and unmap it: the archiver's check before it
 * creates anything.  0 or the error of either. */
int h5tier__ring_verify(const char *name);
void h5tier__ring_unmap(ring_map_t *m);
/* 0, or -EIO with a message naming the object when another process truncated
 * the reader table (or, for a reader, the data object) under m (sigbus.c). */
int h5tier__ring_broken(const ring_map_t *m);
/* Map every page of m->all now (read or write per m->writable), so that the
 * first lap of the writer and of a reader takes no page faults on the hot
 * path (each costs microseconds, more in a VM).  Best effort, no error. */
void h5tier__ring_prefault(ring_map_t *m);
/* Find a stream by name in a mapped ring (NULL/"" = 0); -ENOENT with a list. */
int h5tier__ring_find_stream(const ring_map_t *m, const char *stream);

/* Monotonic clock in ns. */
uint64_t h5tier__ring_now_ns(void);

/* futex helpers (shared, not PRIVATE: the word lives in a shared mapping). */
int h5tier__futex_wait(_Atomic uint32_t *addr, uint32_t val, int timeout_ms);
void h5tier__futex_wake(_Atomic uint32_t *addr);

/* Is the writer recorded in hdr alive?  1 alive, 0 none attached, -1 dead. */
int h5tier__ring_writer_state(ring_hdr_t *hdr, int dead_after_ms);

/* A printable copy of untrusted text from the control block (at most maxlen
 * bytes of in, up to a NUL), through h5tier__esc.  Returns buf. */
static inline const char *ring__esc(const char *in, size_t maxlen, char *buf, size_t buflen)
{
    return h5tier__esc(in, strnlen(in, maxlen), buf, buflen);
}

/* h5tier__owner_check for a pid field in the reader table, which any reader
 * may have written: INT32_MIN (no process; its negation is undefined) counts
 * as no owner. */
static inline pid_t ring__owner_check(_Atomic int32_t *pid, _Atomic uint64_t *start, bool *alive)
{
    if (atomic_load_explicit(pid, memory_order_relaxed) == INT32_MIN) {
        *alive = false;
        return 0;
    }
    return h5tier__owner_check(pid, start, alive);
}

/* Clear the sleepers bits of reader slots whose owner is gone (a reader
 * killed while it slept on the futex); returns the bits still set. */
uint32_t h5tier__ring_repair_sleepers(ring_rstream_t *rs);

/* Canonical name of the reader table of canonical ring name canon:
 * "/.NAME.readers".  0 or -ENAMETOOLONG. */
int h5tier__ring_rtab_name(const char *canon, char *out, size_t outlen);

/* Validate a stream name ([A-Za-z0-9_.-]+, <= 47). */
int h5tier__ring_check_stream_name(const char *name);

/* Copy every attribute of src to dst exactly (schema.c; used by ring
 * creation and by the archiver).  0 or -H5TIER_EHDF5 with an errmsg naming
 * the attribute. */
int h5tier__ring_copy_attrs(hid_t src, hid_t dst);

#endif /* H5TIER_RING_INTERNAL_H */
