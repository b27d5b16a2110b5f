/*
 * multifile/mf_internal.h -- what the multifile files share: the on-disk
 * formats (log.c), the checksum, rank discovery (rank.c), the in-memory
 * metadata image and extent map (image.c), and the catalog of a whole
 * directory that merge and read-in-place use (catalog.c).  Not installed.
 *
 * On-disk formats, all integers little-endian:
 *
 *   meta (64 bytes)     0 magic "H5TMFDIR"  8 u32 version  12 u32 header size (64)
 *                       16 u32 rank (0)  20 u32 nranks  24 u32 record size (0)
 *                       28 u32 flags (the writers' H5TIER_MULTIFILE_* settings)
 *                       32 u64 creation time (s)  40 u64 run id  48..55 zero
 *                       56 u64 checksum of 0..55
 *   rNNNNNN.log         header (64 bytes), zeros to 4096, then the data bytes, appended
 *   rNNNNNN.idx         header (64 bytes) then records of 64 bytes
 *   log/idx header      0 magic "H5TMFLOG"/"H5TMFIDX"  8 u32 version  12 u32 header size
 *                       16 u32 rank  20 u32 nranks  24 u32 record size (64; idx)
 *                       28 u32 flags  32 u64 creation time  40 u64 run id
 *                       48..55 zero  56 u64 checksum of bytes 0..55
 *   record              0 u32 kind  4 u32 epoch  8 u64 sequence  16 u64 address
 *                       24 u64 length  32 u64 log offset  40 u64 data checksum
 *                       48 u64 aux  56 u64 checksum of bytes 0..55
 *
 * Record kinds: DATA (raw data of this rank, bytes in its log), META (rank
 * 0's metadata, bytes in its log), DIGEST (address, length and checksum of
 * a piece of the rank's final metadata image; no bytes), CLOSE (last record:
 * aux = end of allocated space, address = records before it, length = log
 * size).  Checksums are XXH3-64 (libxxhash) with a seed per use.
 *
 * Format versions: 2 (XXH3).  Version 1 (h5tier before XXH3: a hash written
 * by hand) is refused with an error that says so; merge such a directory
 * with the h5tier that wrote it.
 */
#ifndef H5TIER_MF_INTERNAL_H
#define H5TIER_MF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack, no malloc per hash */
#include <xxhash.h>

#include "common/internal.h"
#include "h5tier_multifile.h"

#define MF_VERSION 2u
#define MF_VERSION_HANDHASH 1u /* hand-written hash; refused with a clear error */
#define MF_HDR_SIZE 64u
#define MF_REC_SIZE 64u
#define MF_META_NAME "meta"
#define MF_DIGEST_PIECE ((uint64_t)4 << 10) /* digest pieces end at multiples of this */

enum { MF_KIND_DATA = 1, MF_KIND_META = 2, MF_KIND_DIGEST = 3, MF_KIND_CLOSE = 4 };

#define MF_SEED_DATA 0x6d66646174610001ull
#define MF_SEED_REC 0x6d667265636f7264ull
#define MF_SEED_HDR 0x6d66686561646572ull

/* ---- checksum (log.c) ---------------------------------------------------- */

/* A streaming XXH3-64 state (xxhash.h's static-linking-only struct; it
 * needs 64-byte alignment, so keep it on the stack or in aligned memory). */
typedef struct mf_hash {
    XXH3_state_t st;
} mf_hash_t;

void h5tier__mf_hash_init(mf_hash_t *h, uint64_t seed);
void h5tier__mf_hash_update(mf_hash_t *h, const void *p, size_t len);
uint64_t h5tier__mf_hash_final(const mf_hash_t *h);
uint64_t h5tier__mf_hash(const void *p, size_t len, uint64_t seed);

/* ---- records and headers (log.c) ----------------------------------------- */

typedef struct mf_rec {
    uint32_t kind, epoch;
    uint64_t seq, addr, len, log_off, data_hash, aux;
} mf_rec_t;

void h5tier__mf_rec_encode(const mf_rec_t *r, unsigned char out[MF_REC_SIZE]);
/* 0, or -EBADMSG when the record checksum does not match. */
int h5tier__mf_rec_decode(const unsigned char in[MF_REC_SIZE], mf_rec_t *r);

typedef struct mf_hdr {
    char magic[8];
    uint32_t version, hdr_size, rank, nranks, rec_size, flags;
    uint64_t ctime;
    uint64_t run_id; /* the job this file belongs to (0: unknown) */
} mf_hdr_t;

void h5tier__mf_hdr_encode(const mf_hdr_t *h, unsigned char out[MF_HDR_SIZE]);
/* Decode and check a header of the expected magic: 0, -H5TIER_EMAGIC,
 * -H5TIER_EVERSION (errmsg names `what` and both versions), -EBADMSG. */
int h5tier__mf_hdr_decode(const unsigned char in[MF_HDR_SIZE], const char *magic, const char *what, mf_hdr_t *h);

/* "DIR/r000123.log" / ".idx" into buf.  0 or -ENAMETOOLONG. */
int h5tier__mf_rank_path(char *buf, size_t len, const char *dir, unsigned rank, const char *ext);

/* The directory for a name given to H5Fcreate/H5Fopen or to merge: name
 * itself when it ends in ".mf", else name + ".mf".  0 or -ENAMETOOLONG. */
int h5tier__mf_dir_name(const char *name, char *buf, size_t len);

/* Open an existing file of the directory for reading, refusing symlinks and
 * non-regular files.  fd or -errno (errmsg set). */
int h5tier__mf_open_ro(const char *path, struct stat *st);

/* ---- ranks (rank.c) ------------------------------------------------------ */

/* Resolve rank/nranks for cfg: explicit values, MPI communicator, then the
 * environment.  0 or -errno (errmsg set). */
int h5tier__mf_resolve_rank(const h5tier_multifile_config_t *cfg, int *rank, int *nranks, const char **source);

/* The id of the job this process belongs to, the same on every rank: with an
 * MPI communicator rank 0 draws one and broadcasts it; otherwise from
 * H5TIER_RUN_ID, SLURM_JOB_ID(.SLURM_STEP_ID), PMIX_NAMESPACE or Open MPI's
 * job id; 0 when none is known (then files of different runs cannot be told
 * apart).  Never fails. */
uint64_t h5tier__mf_run_id(const h5tier_multifile_config_t *cfg, int rank);

/* ---- the metadata image (image.c) ---------------------------------------- */

/* Sparse image of the metadata bytes written, in 4 KiB pages with a bit per
 * byte telling which were written. */
typedef struct mf_page mf_page_t;
typedef struct mf_image {
    mf_page_t **pages; /* sorted by page number */
    size_t n, cap;
} mf_image_t;

int h5tier__mf_image_write(mf_image_t *im, uint64_t addr, const void *buf, size_t len); /* 0 / -ENOMEM */
/* Copy [addr, addr+len) into buf, zeros where nothing was written. */
void h5tier__mf_image_read(const mf_image_t *im, uint64_t addr, void *buf, size_t len);
/* Call fn for each digest piece (maximal runs of written bytes, split at
 * multiples of MF_DIGEST_PIECE) in address order.  Stops at fn's error. */
int h5tier__mf_image_digest(const mf_image_t *im, int (*fn)(uint64_t addr, uint64_t len, uint64_t hash, void *arg),
                            void *arg);
void h5tier__mf_image_free(mf_image_t *im);

/* A map of disjoint extents [addr, addr+len) -> log offset, later inserts
 * overriding earlier ones (a rank's own raw data). */
typedef struct mf_ext {
    uint64_t addr, len, log_off;
} mf_ext_t;
typedef struct mf_extmap {
    mf_ext_t *v;
    size_t n, cap;
} mf_extmap_t;
int h5tier__mf_extmap_put(mf_extmap_t *m, uint64_t addr, uint64_t len, uint64_t log_off); /* 0 / -ENOMEM */
/* Index of the first extent ending after addr (n if none). */
size_t h5tier__mf_extmap_find(const mf_extmap_t *m, uint64_t addr);
void h5tier__mf_extmap_free(mf_extmap_t *m);

/* ---- the catalog of a directory (catalog.c) ------------------------------ */

/* One replayed record in memory. */
typedef struct mf_crec {
    uint64_t addr, len, log_off, seq, data_hash;
    uint32_t rank, epoch;
} mf_crec_t;

/* One piece of the merged image: [addr, addr+len) comes from record rec at
 * offset addr - rec.addr. */
typedef struct mf_seg {
    uint64_t addr, len;
    uint32_t rec;
} mf_seg_t;

typedef struct mf_catalog {
    char dir[4096];
    unsigned nranks;
    uint64_t run_id;  /* from the metafile; every rank file must carry it */
    mf_crec_t *recs; /* DATA and META records, sorted by (epoch, seq, rank) = priority */
    size_t nrecs;
    mf_seg_t *segs;  /* merged image, sorted by address, disjoint */
    size_t nsegs;
    uint64_t eoa;    /* end of allocated space (close records), or the end of the last segment */
    uint64_t bytes_logged, overlaps, torn;
    unsigned epochs;
    unsigned incomplete; /* ranks without a close record (when allowed) */
} mf_catalog_t;

#define MF_CAT_ALLOW_OVERLAPS 0x1u
#define MF_CAT_ALLOW_INCOMPLETE 0x2u

/* Load every rank's index of dir, check headers, records, close records and
 * metadata digests, and build the merged image.  warn (may be NULL) gets each
 * warning.  0 or -errno/-H5TIER_E* with errmsg (see h5tier_multifile_merge). */
int h5tier__mf_catalog_load(mf_catalog_t *c, const char *dir, unsigned flags, void (*warn)(const char *, void *),
                            void *warn_arg);
void h5tier__mf_catalog_free(mf_catalog_t *c);
/* First segment ending after addr. */
size_t h5tier__mf_catalog_find(const mf_catalog_t *c, uint64_t addr);

/* A small cache of open rank logs (LRU, at most cap).  Not thread-safe: one
 * per thread. */
typedef struct mf_fdcache {
    const char *dir;
    unsigned cap, n;
    int *fd;
    unsigned *rank;
    uint64_t *used, tick;
    unsigned peak;
} mf_fdcache_t;
int h5tier__mf_fdcache_init(mf_fdcache_t *fc, const char *dir, unsigned cap);
/* fd of rank's log, or -errno (errmsg set). */
int h5tier__mf_fdcache_get(mf_fdcache_t *fc, unsigned rank);
void h5tier__mf_fdcache_free(mf_fdcache_t *fc);

/* Push errmsg on the HDF5 stack under the multifile area; -|rc|. */
int h5tier__mf_push_last(int rc);

#endif /* H5TIER_MF_INTERNAL_H */
